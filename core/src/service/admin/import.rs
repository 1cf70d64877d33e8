//! Importing people from a CSV file (email, name, role), as Excel writes it: UTF-8 with or
//! without a byte-order mark, commas or semicolons, a header row or none. A preview lists
//! every row's problem before anything is written; the import itself takes the same file
//! again, only if it is the one previewed (same SHA-256), and adds everyone or no one, each
//! with an invitation through the outbox.

use std::collections::HashSet;

use sha2::{Digest as _, Sha256};

use super::people::{send_invitation, By, Invitee};
use crate::accounts::{self, NewUser, Role};
use crate::audit::{self, AuditKind};
use crate::{CoreError, CoreResult, Tessera};

/// At most this many people in one file.
pub const MAX_IMPORT_ROWS: usize = 10_000;
/// At most this many bytes in one file (10,000 rows of long names and addresses fit).
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// One row of the file as the preview shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// The row's line in the file (1 is the first line).
    pub line: u64,
    pub email: String,
    pub name: String,
    pub role: String,
    /// What is wrong with it, in plain words; `None` when it can be imported.
    pub problem: Option<String>,
}

/// What the file would do.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPreview {
    pub rows: Vec<ImportRow>,
    pub valid: usize,
    pub problems: usize,
    /// The file's SHA-256: the import must be given the same file.
    pub hash: String,
}

pub fn file_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Reads the file into rows, each with its invitee or its problem (apart from addresses
/// already in use, which need the database).
fn parse(text: &str) -> CoreResult<Vec<(ImportRow, Option<Invitee>)>> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(CoreError::invalid(
            "file",
            format!(
                "The file is larger than {} MB. Split it into smaller files.",
                MAX_IMPORT_BYTES / (1024 * 1024)
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut columns = (0usize, 1usize, 2usize);
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            CoreError::invalid("file", format!("This is not a CSV file we can read: {e}."))
        })?;
        // The record's first line, counted from where it starts in the text (newlines
        // counted once each, as the reader moves on). After a \r\n the reader's position
        // is still on the \n: step past it.
        let mut start = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(0))
            .clamp(counted_to, text.len());
        while text
            .as_bytes()
            .get(start)
            .is_some_and(|b| *b == b'\r' || *b == b'\n')
        {
            start += 1;
        }
        newlines += text.as_bytes()[counted_to..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = start;
        let line = newlines + 1;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if index == 0 {
            let header: Vec<String> = record.iter().map(|c| c.to_lowercase()).collect();
            let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
            if let Some(email) = find(&["email", "e-mail", "email address"]) {
                columns = (
                    email,
                    find(&["name", "full name", "display name"]).unwrap_or(usize::MAX),
                    find(&["role"]).unwrap_or(usize::MAX),
                );
                continue;
            }
        }
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(CoreError::invalid(
                "file",
                format!(
                    "The file has more than {MAX_IMPORT_ROWS} people. Split it into smaller files."
                ),
            ));
        }
        let cell = |i: usize| record.get(i).unwrap_or_default().to_string();
        let (email, name) = (cell(columns.0), cell(columns.1));
        let role = Some(cell(columns.2))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "staff".into());
        let parsed = Invitee::parse(&email, &name, &role.to_lowercase());
        let mut row = ImportRow {
            line,
            email,
            name,
            role,
            problem: None,
        };
        let invitee = match parsed {
            Ok(invitee) if !seen.insert(invitee.email.as_str().to_string()) => {
                row.problem = Some("The same address appears earlier in the file.".into());
                None
            }
            Ok(invitee) => Some(invitee),
            Err(e) => {
                row.problem = Some(match e {
                    CoreError::Invalid { message, .. } => message,
                    other => other.to_string(),
                });
                None
            }
        };
        rows.push((row, invitee));
    }
    if rows.is_empty() {
        return Err(CoreError::invalid(
            "file",
            "The file has nobody in it: one person per line, as email, name, role.",
        ));
    }
    Ok(rows)
}

impl Tessera {
    /// What importing `text` would do. Writes nothing. Admins only (the guard says so too).
    pub async fn preview_import(&self, by: By<'_>, text: &str) -> CoreResult<ImportPreview> {
        if let By::Console(caller, _) = by {
            super::admins_only(caller)?;
        }
        let mut rows = parse(text)?;
        let mut conn = self.db.pool().acquire().await?;
        for (row, invitee) in &mut rows {
            if let Some(who) = invitee {
                if accounts::user_by_email(&mut conn, &who.email)
                    .await?
                    .is_some()
                {
                    row.problem = Some(format!("An account for {} already exists.", who.email));
                    *invitee = None;
                }
            }
        }
        let problems = rows.iter().filter(|(r, _)| r.problem.is_some()).count();
        Ok(ImportPreview {
            valid: rows.len() - problems,
            problems,
            rows: rows.into_iter().map(|(row, _)| row).collect(),
            hash: file_hash(text),
        })
    }

    /// Adds everyone in `text` and mails each an invitation, all in one transaction, if
    /// `text` is the file previewed (`hash`) and no row has a problem. Returns how many.
    pub async fn import_users(&self, by: By<'_>, text: &str, hash: &str) -> CoreResult<usize> {
        if let By::Console(caller, _) = by {
            super::admins_only(caller)?;
            self.require_step_up(caller)?;
        }
        if file_hash(text) != hash.trim() {
            return Err(CoreError::invalid(
                "file",
                "This is not the file you previewed. Preview it again before importing.",
            ));
        }
        let preview = self.preview_import(by, text).await?;
        if preview.problems > 0 {
            return Err(CoreError::invalid(
                "file",
                format!(
                    "{} row(s) have problems: fix them and preview again. Nobody was added.",
                    preview.problems
                ),
            ));
        }
        let invitees: Vec<Invitee> = parse(text)?
            .into_iter()
            .filter_map(|(_, invitee)| invitee)
            .collect();
        let now = self.now();
        let mut tx = self.db.write().await?;
        for who in &invitees {
            // An address taken since the preview fails the whole import: nothing is kept.
            let id = accounts::insert_user(
                &mut tx,
                NewUser {
                    email: &who.email,
                    display_name: &who.name,
                    role: who.role,
                    password_hash: None,
                },
                now,
            )
            .await?;
            send_invitation(&mut tx, self, (id, &who.email, &who.name), &by, true, now).await?;
            audit::record(
                &mut tx,
                by.event(AuditKind::UserInvited, Some(id), who.email.as_str())
                    .detail(format!("role {}; imported from a file", who.role.as_str())),
                now,
            )
            .await?;
        }
        let admins = invitees.iter().filter(|w| w.role == Role::Admin).count();
        audit::record(
            &mut tx,
            by.event(AuditKind::UsersImported, None, "").detail(format!(
                "{} people from a file (sha-256 {}), {admins} of them admins; invitations queued",
                invitees.len(),
                &hash.trim()[..16.min(hash.trim().len())]
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(invitees.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_files_with_a_bom_semicolons_and_a_header_are_read() {
        let text = "\u{feff}Email;Name;Role\r\nann@clinic.example;Ann Lee;Helpdesk\r\nbob@clinic.example;Bob Kay;\r\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 2);
        let ann = rows[0].1.as_ref().unwrap();
        assert_eq!(ann.email.as_str(), "ann@clinic.example");
        assert_eq!(ann.role, Role::Helpdesk);
        assert_eq!(
            rows[1].1.as_ref().unwrap().role,
            Role::Staff,
            "no role: staff"
        );
        assert_eq!(rows[1].0.line, 3);
    }

    #[test]
    fn every_problem_is_named_on_its_row() {
        let text = "ann@clinic.example,Ann Lee,staff\nnot-an-address,Zed,staff\nANN@clinic.example,Ann Again,staff\ncal@clinic.example,Cal,janitor\n";
        let rows = parse(text).unwrap();
        let problems: Vec<Option<&str>> = rows.iter().map(|(r, _)| r.problem.as_deref()).collect();
        assert!(problems[0].is_none());
        assert!(problems[1].is_some());
        assert!(problems[2].unwrap().contains("earlier in the file"));
        assert!(problems[3].is_some());
    }

    #[test]
    fn too_many_rows_or_bytes_are_refused() {
        let many: String = (0..=MAX_IMPORT_ROWS)
            .map(|i| format!("p{i}@clinic.example,Person {i},staff\n"))
            .collect();
        assert!(parse(&many).unwrap_err().to_string().contains("more than"));
        let big = "x".repeat(MAX_IMPORT_BYTES + 1);
        assert!(parse(&big).unwrap_err().to_string().contains("larger"));
        assert!(parse("\n\n").is_err());
    }
}
