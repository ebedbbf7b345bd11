/*!
`nix-hug remove NAME…`: drops entries from the lock file; their outputs stay in the store until garbage
collection.
*/

use super::print;
use crate::cli::Pins;
use crate::error::Result;
use crate::info;
use crate::lock::Lock;

pub fn run(names: &[String], pins: &Pins) -> Result<()> {
    let mut lock = Lock::read(&pins.lock)?;
    lock.check_names(names, &pins.lock)?;
    for name in names {
        lock.repos.remove(name);
        info!("removed {name} from {}", pins.lock.display());
    }
    lock.write(&pins.lock)?;
    if pins.json {
        print(&format!("{}\n", serde_json::json!({ "removed": names })))?;
    }
    Ok(())
}
