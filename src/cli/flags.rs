/*!
The two tables the whole command line is made of: `COMMANDS` and `FLAGS`. Parsing looks names up here,
and the help texts and shell completions are rendered from here, so a flag cannot be accepted without
being documented (or documented without being accepted). A flag's `apply` only validates and records
its value in `Args` (a glob becomes its regex here); checks across flags happen once parsing is done.
*/

use super::texts::{
    EXPORT_HELP, FETCH_HELP, IMPORT_HELP, LS_HELP, REFS_HELP, STORE_HELP, STORE_LS_HELP, STORE_PATH_HELP,
};
use crate::error::{Result, usage};
use crate::filter::glob_to_regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Fetch,
    Ls,
    Refs,
    Export,
    Import,
    Store,
    StoreLs,
    StorePath,
    BuilderFetch,
    BuilderCache,
    BuilderLock,
}

pub struct Command {
    pub cmd: Cmd,
    /// The words that name it: `fetch`, or `store ls` for a command of the `store` group.
    pub name: &'static str,
    /// One line for the list of commands and the completions.
    pub summary: &'static str,
    /// The text of `nix-hug NAME --help`; `%options%` stands for the table of its flags.
    pub help: &'static str,
    /// Whether it takes a URL.
    pub url: bool,
    /// Builder entry points: accepted, never shown.
    pub hidden: bool,
}

impl Command {
    /// The last word of its name: `ls` for `store ls`.
    pub fn word(&self) -> &'static str {
        self.name.rsplit(' ').next().unwrap_or(self.name)
    }

    /// The commands of this group (`store ls`, `store path` for `store`); none for a plain command.
    pub fn subcommands(&self) -> impl Iterator<Item = &'static Command> {
        visible_commands().filter(|c| c.name.strip_prefix(self.name).is_some_and(|rest| rest.starts_with(' ')))
    }
}

pub const COMMANDS: &[Command] = &[
    Command {
        cmd: Cmd::Fetch,
        name: "fetch",
        summary: "Download a model or dataset and print the Nix expression that pins it",
        help: FETCH_HELP,
        url: true,
        hidden: false,
    },
    Command {
        cmd: Cmd::Ls,
        name: "ls",
        summary: "List the files of a model or dataset and which ones the filters take",
        help: LS_HELP,
        url: true,
        hidden: false,
    },
    Command {
        cmd: Cmd::Refs,
        name: "refs",
        summary: "List the branches, tags, conversions and pull requests of a repository, with their commits",
        help: REFS_HELP,
        url: true,
        hidden: false,
    },
    Command {
        cmd: Cmd::Export,
        name: "export",
        summary: "Fetch a model or dataset and keep a copy in the persist directory",
        help: EXPORT_HELP,
        url: true,
        hidden: false,
    },
    Command {
        cmd: Cmd::Import,
        name: "import",
        summary: "Put exported models and datasets back into the Nix store, without downloading",
        help: IMPORT_HELP,
        url: true,
        hidden: false,
    },
    Command {
        cmd: Cmd::Store,
        name: "store",
        summary: "What the persist directory holds, and where it is",
        help: STORE_HELP,
        url: false,
        hidden: false,
    },
    Command {
        cmd: Cmd::StoreLs,
        name: "store ls",
        summary: "List the exported outputs and whether each is still in the Nix store",
        help: STORE_LS_HELP,
        url: false,
        hidden: false,
    },
    Command {
        cmd: Cmd::StorePath,
        name: "store path",
        summary: "Print the persist directory",
        help: STORE_PATH_HELP,
        url: false,
        hidden: false,
    },
    Command { cmd: Cmd::BuilderFetch, name: "__fetch", summary: "", help: "", url: false, hidden: true },
    Command { cmd: Cmd::BuilderCache, name: "__cache", summary: "", help: "", url: false, hidden: true },
    Command { cmd: Cmd::BuilderLock, name: "__lock", summary: "", help: "", url: false, hidden: true },
];

/// The workers of `--jobs` when it is not given, and its bounds.
pub const DEFAULT_JOBS: usize = 8;
const MAX_JOBS: usize = 64;

/// Flag values as given, before the checks across flags.
#[derive(Debug, Default)]
pub struct Args {
    pub debug: bool,
    pub help: bool,
    pub version: bool,
    pub generate: Option<Shell>,
    pub rev: Option<String>,
    /// Globs, as typed.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub files: Vec<String>,
    pub json: bool,
    pub hash: bool,
    pub dry_run: bool,
    pub out_link: Option<String>,
    pub quiet: bool,
    pub jobs: Option<usize>,
    pub all: bool,
}

pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// The name of its value in help (`GLOB`); `None` for a switch.
    pub value: Option<&'static str>,
    /// The commands that accept it; empty for a global flag, accepted anywhere.
    pub commands: &'static [Cmd],
    /// One line for the help table and the completions.
    pub help: &'static str,
    /// Accepted, never shown in help or completions.
    pub hidden: bool,
    /// Records the flag (with its value when it takes one). Errors get the flag name added by the parser.
    pub apply: fn(&mut Args, Option<String>) -> Result<()>,
}

/// The commands that choose a repository at a ref and files in it.
const TARGET: &[Cmd] = &[Cmd::Fetch, Cmd::Ls, Cmd::Export];

/// In the order of the help texts: the commands' own flags, then the global ones. A name may appear
/// twice for different commands (`--ref` means something else to `import`).
pub const FLAGS: &[Flag] = &[
    Flag {
        long: "ref",
        short: None,
        value: Some("REF"),
        commands: TARGET,
        help: "Branch, tag, commit or refs/pr/N (default: the URL's ref, else main)",
        hidden: false,
        apply: set_ref,
    },
    Flag {
        long: "ref",
        short: None,
        value: Some("REF"),
        commands: &[Cmd::Import],
        help: "Only the commits starting with REF (default: the URL's ref, else all)",
        hidden: false,
        apply: set_ref,
    },
    Flag {
        long: "all",
        short: None,
        value: None,
        commands: &[Cmd::Import],
        help: "Import every exported output instead of those of one URL",
        hidden: false,
        apply: |a, _| {
            a.all = true;
            Ok(())
        },
    },
    Flag {
        long: "yes",
        short: Some('y'),
        value: None,
        commands: &[Cmd::Import],
        help: "Accepted for compatibility: there is nothing to confirm",
        hidden: false,
        apply: |_, _| Ok(()),
    },
    Flag {
        long: "no-check-sigs",
        short: None,
        value: None,
        commands: &[Cmd::Import],
        help: "Accepted for compatibility: Nix checks these outputs by hash, not signature",
        hidden: false,
        apply: |_, _| Ok(()),
    },
    Flag {
        long: "include",
        short: None,
        value: Some("GLOB"),
        commands: TARGET,
        help: "Take only the large (LFS) files matching GLOB; repeatable",
        hidden: false,
        apply: |a, v| {
            a.include.push(glob(v)?);
            Ok(())
        },
    },
    Flag {
        long: "exclude",
        short: None,
        value: Some("GLOB"),
        commands: TARGET,
        help: "Leave out the large (LFS) files matching GLOB; repeatable",
        hidden: false,
        apply: |a, v| {
            a.exclude.push(glob(v)?);
            Ok(())
        },
    },
    Flag {
        long: "file",
        short: None,
        value: Some("PATH"),
        commands: TARGET,
        help: "Take exactly this file and no other; repeatable",
        hidden: false,
        apply: |a, v| {
            let v = v.unwrap_or_default();
            if v.is_empty() {
                return Err(usage("empty path"));
            }
            a.files.push(v);
            Ok(())
        },
    },
    Flag {
        long: "jobs",
        short: None,
        value: Some("N"),
        commands: &[Cmd::Fetch, Cmd::Export],
        help: "Download with N parallel requests, 1 to 64 (default: 8)",
        hidden: false,
        apply: |a, v| {
            let v = v.unwrap_or_default();
            match v.parse::<usize>() {
                Ok(n) if (1..=MAX_JOBS).contains(&n) => {
                    a.jobs = Some(n);
                    Ok(())
                }
                _ => Err(usage(format!("expected a number from 1 to {MAX_JOBS}, got {v:?}"))),
            }
        },
    },
    Flag {
        long: "hash",
        short: None,
        value: None,
        commands: &[Cmd::Fetch, Cmd::Export],
        help: "Print only the fileTreeHash (sha256-...) instead of the expression",
        hidden: false,
        apply: |a, _| {
            a.hash = true;
            Ok(())
        },
    },
    Flag {
        long: "out-link",
        short: Some('o'),
        value: Some("PATH"),
        commands: &[Cmd::Fetch, Cmd::Export],
        help: "Make PATH a link that keeps the output from garbage collection (nix-build -o)",
        hidden: false,
        apply: |a, v| {
            match v.filter(|v| !v.is_empty()) {
                Some(v) if a.out_link.is_none() => a.out_link = Some(v),
                Some(_) => return Err(usage("given twice: one link per run")),
                None => return Err(usage("empty path")),
            }
            Ok(())
        },
    },
    Flag {
        long: "dry-run",
        short: None,
        value: None,
        commands: &[Cmd::Fetch],
        help: "Say what would be downloaded and how much, and write nothing",
        hidden: false,
        apply: |a, _| {
            a.dry_run = true;
            Ok(())
        },
    },
    Flag {
        long: "json",
        short: None,
        value: None,
        commands: &[Cmd::Fetch, Cmd::Ls, Cmd::Refs, Cmd::Export, Cmd::StoreLs],
        help: "Print JSON instead of the text for humans",
        hidden: false,
        apply: |a, _| {
            a.json = true;
            Ok(())
        },
    },
    Flag {
        long: "quiet",
        short: Some('q'),
        value: None,
        commands: &[],
        help: "Print only results, warnings and errors: no progress, no other messages",
        hidden: false,
        apply: |a, _| {
            a.quiet = true;
            Ok(())
        },
    },
    Flag {
        long: "debug",
        short: None,
        value: None,
        commands: &[],
        help: "Show HTTP requests, commands run, hash steps and error details on stderr",
        hidden: false,
        apply: |a, _| {
            a.debug = true;
            Ok(())
        },
    },
    Flag {
        long: "help",
        short: Some('h'),
        value: None,
        commands: &[],
        help: "Print help",
        hidden: false,
        apply: |a, _| {
            a.help = true;
            Ok(())
        },
    },
    Flag {
        long: "version",
        short: Some('V'),
        value: None,
        commands: &[],
        help: "Print the version",
        hidden: false,
        apply: |a, _| {
            a.version = true;
            Ok(())
        },
    },
    Flag {
        long: "generate",
        short: None,
        value: Some("KIND"),
        commands: &[],
        help: "Print a shell completion script: complete-bash, complete-zsh or complete-fish",
        hidden: true,
        apply: |a, v| {
            a.generate = Some(Shell::parse(&v.unwrap_or_default())?);
            Ok(())
        },
    },
];

/// A glob as typed, once it is known to be a valid one (it becomes a regex when parsing is done).
fn glob(v: Option<String>) -> Result<String> {
    let v = v.unwrap_or_default();
    if v.is_empty() {
        return Err(usage("an empty pattern matches no file"));
    }
    glob_to_regex(&v)?;
    Ok(v)
}

fn set_ref(a: &mut Args, v: Option<String>) -> Result<()> {
    let v = v.unwrap_or_default();
    if v.is_empty() {
        return Err(usage("empty ref"));
    }
    if let Some(first) = &a.rev {
        return Err(usage(format!("given twice ({first:?} and {v:?}): one ref per run")));
    }
    a.rev = Some(v);
    Ok(())
}

/// The shells `--generate` writes completions for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    /// Reads the value of `--generate`.
    pub fn parse(kind: &str) -> Result<Shell> {
        match kind {
            "complete-bash" => Ok(Shell::Bash),
            "complete-zsh" => Ok(Shell::Zsh),
            "complete-fish" => Ok(Shell::Fish),
            _ => Err(usage(format!("unknown KIND {kind:?}: expected complete-bash, complete-zsh or complete-fish"))),
        }
    }
}

/// The visible commands, in table order.
pub fn visible_commands() -> impl Iterator<Item = &'static Command> {
    COMMANDS.iter().filter(|c| !c.hidden)
}

/// The visible commands that stand first on the command line: `store`, not `store ls`.
pub fn top_level_commands() -> impl Iterator<Item = &'static Command> {
    visible_commands().filter(|c| !c.name.contains(' '))
}

/// The visible flags `cmd` accepts (the global ones with `None`), its own first.
pub fn visible_flags(cmd: Option<Cmd>) -> impl Iterator<Item = &'static Flag> {
    FLAGS.iter().filter(move |f| !f.hidden && (f.commands.is_empty() || cmd.is_some_and(|c| f.commands.contains(&c))))
}

/// The flag `cmd` accepts that `is` picks out by name, else another of that name, for the error message.
pub fn find_flag(cmd: Option<Cmd>, is: impl Fn(&Flag) -> bool) -> Option<&'static Flag> {
    let accepts = |f: &Flag| f.commands.is_empty() || cmd.is_some_and(|c| f.commands.contains(&c));
    FLAGS.iter().filter(|f| is(f)).min_by_key(|f| !accepts(f))
}

/// Every visible flag, whichever commands accept it.
pub fn all_visible_flags() -> impl Iterator<Item = &'static Flag> {
    FLAGS.iter().filter(|f| !f.hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let shared = |a: &Flag, b: &Flag| {
            a.commands.is_empty() || b.commands.is_empty() || a.commands.iter().any(|c| b.commands.contains(c))
        };
        for (i, a) in FLAGS.iter().enumerate() {
            for b in FLAGS[i + 1..].iter().filter(|b| shared(a, b)) {
                assert_ne!(a.long, b.long);
                assert!(a.short.is_none() || a.short != b.short, "{} and {}", a.long, b.long);
            }
        }
        for (i, a) in COMMANDS.iter().enumerate() {
            assert!(COMMANDS[i + 1..].iter().all(|b| a.name != b.name && a.cmd != b.cmd), "{}", a.name);
        }
    }

    #[test]
    fn each_command_finds_its_own_ref() {
        let import = find_flag(Some(Cmd::Import), |f| f.long == "ref").unwrap();
        assert!(import.commands == [Cmd::Import]);
        let fetch = find_flag(Some(Cmd::Fetch), |f| f.long == "ref").unwrap();
        assert!(fetch.commands.contains(&Cmd::Fetch));
        assert!(find_flag(Some(Cmd::StoreLs), |f| f.long == "ref").is_some(), "found, to be refused by name");
        assert!(find_flag(None, |f| f.long == "bogus").is_none());
    }

    #[test]
    fn jobs_default_is_the_engine_default() {
        assert_eq!(DEFAULT_JOBS, crate::download::Options::default().jobs);
        let jobs = FLAGS.iter().find(|f| f.long == "jobs").unwrap();
        assert!(jobs.help.contains(&format!("1 to {MAX_JOBS} (default: {DEFAULT_JOBS})")), "{}", jobs.help);
    }
}
