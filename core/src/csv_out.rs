//! Every CSV Tessera writes goes through here. A cell a spreadsheet would read as a formula
//! (starting with `=`, `+`, `-`, `@`, or a tab or carriage return before one) is written
//! as text by putting an apostrophe in front: a formula typed into the sign-in box as a
//! "name" must not run in an admin's spreadsheet (OWASP: CSV injection).

use std::borrow::Cow;

use crate::{CoreError, CoreResult};

/// A cell as it is safe to write.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV document written a batch at a time: rows go in, and [`CsvOut::take`] hands out
/// what has been written so far (to stream it), keeping memory flat.
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvOut {
    fn default() -> Self {
        CsvOut {
            writer: csv::Writer::from_writer(Vec::new()),
        }
    }
}

impl CsvOut {
    pub fn row<I, S>(&mut self, cells: I) -> CoreResult<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| safe_cell(c.as_ref()).into_owned())
            .collect();
        self.writer
            .write_record(&cells)
            .map_err(|e| CoreError::Internal(format!("writing CSV: {e}")))
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> CoreResult<Vec<u8>> {
        std::mem::take(self)
            .writer
            .into_inner()
            .map_err(|e| CoreError::Internal(format!("writing CSV: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_quoting_is_the_csv_crates() {
        let mut out = CsvOut::default();
        out.row([
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "plain",
            "a,b",
            "O'Neil",
        ])
        .unwrap();
        let text = String::from_utf8(out.take().unwrap()).unwrap();
        assert_eq!(
            text,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),plain,\"a,b\",O'Neil\n"
        );
        assert_eq!(safe_cell("\t=1"), "'\t=1");
        assert_eq!(safe_cell(""), "");
    }
}
