use anyhow::Result;
pub fn all() -> Result<()> {
    Ok(())
}
