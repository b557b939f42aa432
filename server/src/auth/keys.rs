//! The key that signs access tokens: from config, or generated once and kept in the data folder
//! (mode 0600) so that restarts keep sessions valid.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rand::RngCore;

use crate::config::Secret;

const KEY_FILE: &str = "jwt-secret";

pub fn load_or_create(configured: Option<&Secret>, data_dir: &Path) -> anyhow::Result<Secret> {
    if let Some(s) = configured {
        if s.expose().len() < 32 {
            anyhow::bail!("FIELDVISIT_JWT_SECRET must be at least 32 characters");
        }
        return Ok(s.clone());
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(Secret::new(s.trim())),
        Ok(_) => anyhow::bail!("{} is too short; delete it to generate a new key", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    }
    std::fs::create_dir_all(data_dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", data_dir.display()))?;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(&path, &key).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT signing key");
    Ok(Secret::new(key))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_private_mode() {
        let dir = tempfile::tempdir().expect("dir");
        let a = load_or_create(None, dir.path()).expect("created");
        let b = load_or_create(None, dir.path()).expect("read back");
        assert_eq!(a.expose(), b.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn short_configured_key_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(load_or_create(Some(&Secret::new("short")), dir.path()).is_err());
    }
}
