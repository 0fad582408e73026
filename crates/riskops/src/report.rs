//! Model reports: text and HTML with inline SVG charts.
use anyhow::Result;
use std::path::PathBuf;

pub struct ReportArgs {
    pub model: PathBuf,
    pub data: PathBuf,
    pub target: Option<String>,
    pub bad_value: Option<String>,
    pub baseline: Option<PathBuf>,
    pub html: bool,
}

pub fn build(_args: &ReportArgs) -> Result<String> {
    anyhow::bail!("model report is not implemented yet")
}
