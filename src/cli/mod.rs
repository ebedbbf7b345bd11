/*!
The command line: argv in, a validated `Cli` out. `flags` holds the two tables the command line is made
of (`COMMANDS`, `FLAGS`); this module walks argv with lexopt, looks every name up in them, then checks
across flags. `help` and `complete` render the same tables as help texts and shell completions. Never
I/O beyond argv: help, version and completions come back as text for `cmd` to print.
*/

mod complete;
mod flags;
mod help;

use crate::error::{Error, Result, usage};
use crate::filter::Filters;
use flags::{Args, COMMANDS, Cmd, Command, DEFAULT_JOBS, FLAGS, Flag, visible_commands};
use help::{help, version};
use std::ffi::OsString;

/// What to do, once argv is understood.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    pub debug: bool,
    pub action: Action,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Print this text on stdout (help, version or a completion script) and succeed.
    Print(String),
    Fetch(FetchArgs),
    Ls(LsArgs),
    /// The hidden builder commands run by `lib/` derivations in the sandbox.
    BuilderFetch,
    BuilderCache,
}

/// A repository at a ref, and the files chosen in it: what `fetch` and `ls` both start from.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// `--ref`; the URL's `/tree/REF` and then `main` apply when it is absent.
    pub rev: Option<String>,
    /// Regexes, already converted from the globs given.
    pub filters: Filters,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FetchArgs {
    pub target: Target,
    pub json: bool,
    /// Parallel requests.
    pub jobs: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct LsArgs {
    pub target: Target,
    pub json: bool,
}

/// Parses argv (without the program name).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Cli> {
    use lexopt::Arg;
    let mut parser = lexopt::Parser::from_args(argv);
    let mut args = Args::default();
    let mut command: Option<&Command> = None;
    let mut positional: Vec<String> = Vec::new();

    while let Some(arg) = parser.next().map_err(lexopt_error)? {
        let (flag, shown) = match arg {
            Arg::Value(value) => {
                let value = value.into_string().map_err(|v| usage(format!("argument {v:?} is not valid UTF-8")))?;
                match command {
                    Some(c) if c.hidden => return Err(usage(format!("{} takes no arguments", c.name))),
                    Some(_) => positional.push(value),
                    None => command = Some(find_command(&value)?),
                }
                continue;
            }
            Arg::Long(name) => (FLAGS.iter().find(|f| f.long == name), format!("--{name}")),
            Arg::Short(c) => (FLAGS.iter().find(|f| f.short == Some(c)), format!("-{c}")),
        };
        let flag = accepted(flag, &shown, command)?;
        let value = match flag.value {
            Some(name) => Some(
                parser
                    .value()
                    .map_err(|_| usage(format!("--{} needs a value: --{} {name}", flag.long, flag.long)))?
                    .into_string()
                    .map_err(|v| usage(format!("--{}: {v:?} is not valid UTF-8", flag.long)))?,
            ),
            None => None,
        };
        (flag.apply)(&mut args, value).map_err(|e| e.context(format!("--{}", flag.long)))?;
        // Help, version and completions win over whatever follows, so `nix-hug fetch --help` needs no URL.
        let print = match (args.help, args.version, args.generate) {
            (true, _, _) => help(command.map(|c| c.cmd)),
            (_, true, _) => version(),
            (_, _, Some(shell)) => shell.script(),
            _ => continue,
        };
        return Ok(Cli { debug: args.debug, action: Action::Print(print) });
    }

    let Some(command) = command else {
        let names: Vec<&str> = visible_commands().map(|c| c.name).collect();
        return Err(usage(format!("missing COMMAND ({}); see `nix-hug --help`", names.join(", "))));
    };
    let debug = args.debug;
    let action = match command.cmd {
        Cmd::Fetch => {
            let jobs = args.jobs.unwrap_or(DEFAULT_JOBS);
            let json = args.json;
            Action::Fetch(FetchArgs { target: target(command, args, positional)?, json, jobs })
        }
        Cmd::Ls => {
            let json = args.json;
            Action::Ls(LsArgs { target: target(command, args, positional)?, json })
        }
        Cmd::BuilderFetch => Action::BuilderFetch,
        Cmd::BuilderCache => Action::BuilderCache,
    };
    Ok(Cli { debug, action })
}

fn find_command(word: &str) -> Result<&'static Command> {
    COMMANDS.iter().find(|c| c.name == word).ok_or_else(|| {
        usage(format!("unknown command {word:?}; see `nix-hug --help` (a URL goes after a command: nix-hug fetch URL)"))
    })
}

/// The flag, if the command in effect accepts it; else an error that says where it belongs.
fn accepted(flag: Option<&'static Flag>, shown: &str, command: Option<&Command>) -> Result<&'static Flag> {
    let see = match command {
        Some(c) if !c.hidden => format!("nix-hug {} --help", c.name),
        _ => "nix-hug --help".to_owned(),
    };
    let Some(flag) = flag else {
        return Err(usage(format!("unknown flag {shown}; see `{see}`")));
    };
    if flag.commands.is_empty() || command.is_some_and(|c| flag.commands.contains(&c.cmd)) {
        return Ok(flag);
    }
    Err(match command {
        None => usage(format!("{shown} goes after a command: nix-hug {} URL {shown} ...", command_names(flag))),
        Some(c) => usage(format!("{} does not accept {shown}; see `{see}`", c.name)),
    })
}

fn command_names(flag: &Flag) -> String {
    let names: Vec<&str> = visible_commands().filter(|c| flag.commands.contains(&c.cmd)).map(|c| c.name).collect();
    names.join("|")
}

/// The one URL and the filters of `fetch` and `ls`, checked across flags.
fn target(command: &Command, args: Args, positional: Vec<String>) -> Result<Target> {
    let name = command.name;
    let mut positional = positional.into_iter();
    let url = positional.next().ok_or_else(|| usage(format!("{name}: missing URL; see `nix-hug {name} --help`")))?;
    if let Some(extra) = positional.next() {
        return Err(usage(format!("{name}: unexpected argument {extra:?} (one URL at a time)")));
    }
    if !args.files.is_empty() && (!args.include.is_empty() || !args.exclude.is_empty()) {
        return Err(usage("--file takes exactly the files named and cannot be combined with --include or --exclude"));
    }
    let filters = Filters { include: args.include, exclude: args.exclude, files: args.files };
    Ok(Target { url, rev: args.rev, filters })
}

fn lexopt_error(e: lexopt::Error) -> Error {
    match e {
        lexopt::Error::UnexpectedValue { option, .. } => usage(format!("{option} takes no value")),
        other => usage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn parse_str(args: &[&str]) -> Result<Cli> {
        parse(args.iter().map(OsString::from))
    }

    fn action(args: &[&str]) -> Action {
        parse_str(args).unwrap_or_else(|e| panic!("{args:?}: {e}")).action
    }

    fn fetch(args: &[&str]) -> FetchArgs {
        match action(args) {
            Action::Fetch(f) => f,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        let e = parse_str(args).expect_err(&format!("{args:?} must be refused"));
        assert_eq!(e.kind(), Kind::Usage, "{args:?}: {e}");
        e.to_string()
    }

    fn target(url: &str, rev: Option<&str>, filters: Filters) -> Target {
        Target { url: url.into(), rev: rev.map(Into::into), filters }
    }

    #[test]
    fn every_spelling() {
        let want = FetchArgs {
            target: target(
                "acme/bert",
                Some("v1"),
                Filters { include: vec![r".*\.safetensors".into()], ..Default::default() },
            ),
            json: true,
            jobs: 3,
        };
        for args in [
            &["fetch", "acme/bert", "--ref", "v1", "--include", "*.safetensors", "--json", "--jobs", "3"][..],
            &["fetch", "--ref=v1", "--include=*.safetensors", "--json", "--jobs=3", "acme/bert"],
            &["fetch", "--json", "--include", "*.safetensors", "--jobs", "3", "acme/bert", "--ref", "v1"],
            &["fetch", "--ref", "v1", "--include", "*.safetensors", "--jobs", "3", "--json", "--", "acme/bert"],
        ] {
            assert_eq!(fetch(args), want, "{args:?}");
        }
        let f = fetch(&["fetch", "x/y", "--exclude", "*.bin", "--exclude", "onnx/*"]);
        assert_eq!(f.target.filters.exclude, vec![r".*\.bin", "onnx/.*"]);
        assert_eq!(
            fetch(&["fetch", "x/y", "--file", "a.json", "--file", "b/c.txt"]).target.filters.files,
            vec!["a.json", "b/c.txt"]
        );
        assert_eq!(fetch(&["fetch", "x/y", "--ref", "v1", "--ref", "v2"]).target.rev.as_deref(), Some("v2"));
        assert_eq!(
            fetch(&["fetch", "x/y"]),
            FetchArgs { target: target("x/y", None, Filters::default()), json: false, jobs: DEFAULT_JOBS }
        );
        assert_eq!(fetch(&["fetch", "x/y", "--jobs", "1"]).jobs, 1);
        assert_eq!(fetch(&["fetch", "x/y", "--jobs", "64"]).jobs, 64);
    }

    #[test]
    fn ls_takes_the_same_target() {
        let filters =
            Filters { include: vec![r".*\.safetensors".into()], exclude: vec!["onnx/.*".into()], files: vec![] };
        assert_eq!(
            action(&["ls", "acme/bert", "--include", "*.safetensors", "--exclude", "onnx/*", "--ref", "v1"]),
            Action::Ls(LsArgs { target: target("acme/bert", Some("v1"), filters), json: false })
        );
        let files = Filters { files: vec!["config.json".into()], ..Default::default() };
        assert_eq!(
            action(&["ls", "--json", "x/y", "--file", "config.json"]),
            Action::Ls(LsArgs { target: target("x/y", None, files), json: true })
        );
    }

    #[test]
    fn debug_anywhere() {
        for args in [&["--debug", "fetch", "x/y"][..], &["fetch", "x/y", "--debug"], &["ls", "--debug", "x/y"]] {
            assert!(parse_str(args).unwrap().debug, "{args:?}");
        }
        assert!(!parse_str(&["fetch", "x/y"]).unwrap().debug);
    }

    #[test]
    fn help_version_and_completions() {
        let print = |args: &[&str]| match action(args) {
            Action::Print(text) => text,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(print(&["--help"]), help(None));
        assert_eq!(print(&["-h"]), help(None));
        assert_eq!(print(&["fetch", "--help"]), help(Some(Cmd::Fetch)));
        assert_eq!(print(&["ls", "-h"]), help(Some(Cmd::Ls)));
        assert_eq!(print(&["fetch", "-h", "--bogus"]), help(Some(Cmd::Fetch)), "help wins over what follows");
        assert_eq!(print(&["--version"]), version());
        assert_eq!(print(&["-V"]), version());
        assert!(version().starts_with("nix-hug "));
        for shell in ["bash", "zsh", "fish"] {
            let script = print(&["--generate", &format!("complete-{shell}")]);
            assert!(script.contains("nix-hug") && script.ends_with('\n'), "{shell}");
            assert_eq!(print(&[&format!("--generate=complete-{shell}")]), script);
        }
    }

    #[test]
    fn builder_commands() {
        assert_eq!(action(&["__fetch"]), Action::BuilderFetch);
        assert_eq!(action(&["__cache"]), Action::BuilderCache);
        assert!(usage_error(&["__fetch", "x"]).contains("takes no arguments"));
    }

    #[test]
    fn refusals_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "missing COMMAND (fetch, ls)"),
            (&["fetsh", "x/y"], "unknown command \"fetsh\""),
            (&["fetch"], "fetch: missing URL"),
            (&["ls"], "ls: missing URL; see `nix-hug ls --help`"),
            (&["fetch", "x/y", "z/w"], "unexpected argument \"z/w\""),
            (&["ls", "x/y", "z/w"], "ls: unexpected argument \"z/w\""),
            (&["fetch", "x/y", "--bogus"], "unknown flag --bogus; see `nix-hug fetch --help`"),
            (&["fetch", "x/y", "-x"], "unknown flag -x"),
            (&["fetch", "x/y", "--ref"], "--ref needs a value"),
            (&["fetch", "x/y", "--ref="], "--ref: empty ref"),
            (&["fetch", "x/y", "--include", "[abc"], "--include: invalid glob \"[abc\""),
            (&["ls", "x/y", "--exclude", "a[b"], "--exclude: invalid glob"),
            (&["fetch", "x/y", "--json=yes"], "--json takes no value"),
            (&["fetch", "x/y", "--file", "a", "--include", "*.bin"], "--file"),
            (&["ls", "x/y", "--exclude", "*.bin", "--file", "a"], "--file"),
            (&["--include", "*.bin", "fetch", "x/y"], "--include goes after a command: nix-hug fetch|ls URL"),
            (&["--jobs", "2", "fetch", "x/y"], "--jobs goes after a command: nix-hug fetch URL"),
            (&["ls", "x/y", "--jobs", "2"], "ls does not accept --jobs"),
            (&["__fetch", "--include", "*.bin"], "__fetch does not accept --include"),
            (&["fetch", "x/y", "--jobs", "0"], "--jobs: expected a number from 1 to 64, got \"0\""),
            (&["fetch", "x/y", "--jobs", "65"], "--jobs: expected a number from 1 to 64"),
            (&["fetch", "x/y", "--jobs", "many"], "--jobs: expected a number"),
            (&["--generate", "man"], "--generate: unknown KIND \"man\""),
            (&["--generate"], "--generate needs a value"),
        ];
        for (args, want) in cases {
            let msg = usage_error(args);
            assert!(msg.contains(want), "{args:?}: {msg:?} should contain {want:?}");
        }
    }
}
