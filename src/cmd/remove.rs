/*!
`nix-hug remove NAME…`: drops entries from the lock file; their outputs stay in the store until garbage
collection.
*/

use super::print;
use crate::cli::Pins;
use crate::error::{Result, usage};
use crate::info;
use crate::lock::Lock;

pub fn run(names: &[String], pins: &Pins) -> Result<()> {
    let mut lock = Lock::read(&pins.lock)?;
    for name in names {
        if lock.repos.remove(name).is_none() {
            let known: Vec<&str> = lock.repos.keys().map(String::as_str).collect();
            return Err(usage(format!("{}: no entry {name:?} (it has {})", pins.lock.display(), known.join(", "))));
        }
        info!("removed {name} from {}", pins.lock.display());
    }
    lock.write(&pins.lock)?;
    if pins.json {
        print(&format!("{}\n", serde_json::json!({ "removed": names })))?;
    }
    Ok(())
}
