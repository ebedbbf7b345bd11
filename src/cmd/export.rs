/*!
`nix-hug export URL`: fetch as `fetch` does, copy the output into the persist directory and record it in
the manifest, then print the expression.
*/

use super::fetch;
use crate::cli::FetchArgs;
use crate::error::{Error, Kind, Result};
use crate::nix;
use crate::persist::{Config, Persist};
use crate::prefetch;

pub fn run(args: &FetchArgs) -> Result<()> {
    fetch::check_out_link(args)?;
    let persist = Persist::open(&Config::load()?)?;
    // Checked before the download, which would otherwise be for nothing: a persist directory that can be
    // written, a manifest that can be read, and Nix.
    persist.check_writable()?;
    persist.entries()?;
    if nix::version()?.is_none() {
        return Err(Error::new(Kind::Failed, "export copies the output from the Nix store, but nix is not on PATH"));
    }
    let result = prefetch::fetch(&args.target, args.jobs, None)?;
    persist.export(&result, prefetch::ref_name(&args.target).into_iter().collect())?;
    fetch::finish(&result, args)
}
