/*!
nix-hug: declarative Hugging Face model and dataset management for Nix.

One binary, two faces. Inside the Nix sandbox it is the builder of the derivations in `lib/` (`builder`):
it fetches one repository at a pinned commit into `$out` (or one file, or the small files, of a lock
entry), or assembles several into one cache. Outside, it is the user's CLI. Both run the same `pipeline`:

  repo (URL forms) -> hub (revision, tree) -> filter (choice, unsafe paths) -> layout (the HF cache
  as a value) -> download (parallel, verified) into a folder, or into its NAR (nar::Skeleton), hashed
  as the downloads finish its regions (regions)

so the hash the CLI prints is the one the sandbox produces. The CLI around it: `cli` (argv, help,
completions), `cmd` (one file per command, the only writer of stdout), `prefetch` (the service the
commands share: resolve, plan, download, add to the store), `persist` (the persist directory), `lock`
(the lock file `fromLock` builds from), `nixfile` (the pins written in Nix files), `nix` (the Nix
commands it runs), `gguf` (the quants of `org/repo:QUANT`), `render` (the expression and the JSON it
prints), `msg` and `progress` (stderr), `tempdir` (temporary folders, removed even on Ctrl-C).
*/

pub mod builder;
pub mod cli;
pub mod cmd;
pub mod download;
pub mod error;
pub mod filter;
pub mod gguf;
pub mod hub;
pub mod layout;
pub mod local;
pub mod lock;
pub mod msg;
pub mod nar;
pub mod narinfo;
pub mod nix;
pub mod nixfile;
pub mod persist;
pub mod pipeline;
pub mod prefetch;
pub mod progress;
pub mod regions;
pub mod render;
pub mod repo;
pub mod retry;
pub mod space;
pub mod tempdir;
pub mod tls;
