//! Headless Chromium (Debian's `chromium`) driven by `browser/check.mjs` (playwright-core
//! and axe-core from npm): accessibility violations, script execution, foreign requests,
//! screenshots.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The browser binary: `RATHAUS_CHROMIUM`, or Debian's.
pub fn chromium() -> Result<PathBuf> {
    let path = std::env::var_os("RATHAUS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !path.exists() {
        bail!(
            "{} is missing: `scripts/test` installs Debian's chromium (apt-get install chromium)",
            path.display()
        );
    }
    Ok(path)
}

/// One page to check; `screenshot` is a PNG path to write.
#[derive(Debug, Clone, Default)]
pub struct PageCheck {
    pub url: String,
    pub accept_language: Option<String>,
    pub screenshot: Option<PathBuf>,
}

/// Runs the checks; one JSON report per page, in order.
pub fn check_pages(pages: &[PageCheck], work_dir: &Path) -> Result<Vec<Value>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    crate::ensure_npm_installed(&dir, "playwright-core")?;
    let spec = json!({
        "chromium": chromium()?,
        "pages": pages.iter().map(|p| {
            let mut headers = serde_json::Map::new();
            if let Some(l) = &p.accept_language {
                headers.insert("Accept-Language".into(), Value::from(l.as_str()));
            }
            json!({ "url": p.url, "screenshot": p.screenshot, "headers": headers })
        }).collect::<Vec<_>>(),
    });
    let spec_path = work_dir.join("browser-spec.json");
    std::fs::write(&spec_path, spec.to_string())?;
    let out = Command::new("node")
        .arg("check.mjs")
        .arg(&spec_path)
        .current_dir(&dir)
        .output()
        .context("run node browser/check.mjs")?;
    if !out.status.success() {
        bail!(
            "browser check failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let reports: Vec<Value> =
        serde_json::from_slice(&out.stdout).context("browser check output is JSON")?;
    Ok(reports)
}

/// Where screenshots for people to look at go: `<target dir>/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/debug/deps/<test> → <target>/screenshots
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("screenshots");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
