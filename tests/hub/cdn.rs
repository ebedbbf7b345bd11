//! Signed CDN URLs: what the real Hub's LFS redirects point at, valid for an hour. The CDN checks
//! the signature and the expiry; a new secret expires every URL signed before.

use std::time::{SystemTime, UNIX_EPOCH};

const VALID_SECS: u64 = 3600;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn signature(secret: &str, sha: &str, expires: u64) -> String {
    super::sha256_hex(format!("{secret}\n/cdn/{sha}\n{expires}").as_bytes())
}

pub fn signed_url(cdn: &str, secret: &str, sha: &str) -> String {
    let expires = now() + VALID_SECS;
    format!(
        "{cdn}/cdn/{sha}?X-Amz-Expires={VALID_SECS}&Expires={expires}&X-Amz-Signature={}",
        signature(secret, sha, expires)
    )
}

/// Why the CDN refuses a request for `/cdn/<sha>` with this query, if it does.
pub fn check(secret: &str, sha: &str, query: &str) -> Result<(), &'static str> {
    let param = |name: &str| query.split('&').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
    let expires: u64 = param("Expires").and_then(|e| e.parse().ok()).ok_or("AccessDenied: no Expires")?;
    if param("X-Amz-Signature") != Some(signature(secret, sha, expires).as_str()) {
        return Err("AccessDenied: signature does not match");
    }
    if expires <= now() { Err("AccessDenied: request has expired") } else { Ok(()) }
}
