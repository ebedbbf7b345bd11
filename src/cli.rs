/*!
The command line: argv in, a validated `Cli` out. Two tables describe it, `COMMANDS` and `FLAGS`; the
parser looks names up in them and the help texts are rendered from them, so a flag cannot be accepted
without being documented (or documented without being accepted). A flag's `apply` only validates and
records its value (a glob becomes its regex here); checks across flags happen once parsing is done.
Never I/O beyond argv: help and version come back as text for `cmd` to print.
*/

use crate::error::{Error, Result, usage};
use crate::filter::{Filters, glob_to_regex};
use std::ffi::OsString;

/// What to do, once argv is understood.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    pub debug: bool,
    pub action: Action,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Print this text on stdout (help or version) and succeed.
    Print(String),
    Fetch(FetchArgs),
    /// The hidden builder commands run by `lib/` derivations in the sandbox.
    BuilderFetch,
    BuilderCache,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FetchArgs {
    pub url: String,
    /// `--ref`; the URL's `/tree/REF` and then `main` apply when it is absent.
    pub rev: Option<String>,
    /// Regexes, already converted from the globs given.
    pub filters: Filters,
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Fetch,
    BuilderFetch,
    BuilderCache,
}

pub struct Command {
    pub cmd: Cmd,
    pub name: &'static str,
    /// One line for the list of commands.
    pub summary: &'static str,
    /// The text of `nix-hug NAME --help`; `%options%` stands for the table of its flags.
    pub help: &'static str,
    /// Builder entry points: accepted, never shown.
    pub hidden: bool,
}

pub const COMMANDS: &[Command] = &[
    Command {
        cmd: Cmd::Fetch,
        name: "fetch",
        summary: "Download a model or dataset and print the Nix expression that pins it",
        help: FETCH_HELP,
        hidden: false,
    },
    Command { cmd: Cmd::BuilderFetch, name: "__fetch", summary: "", help: "", hidden: true },
    Command { cmd: Cmd::BuilderCache, name: "__cache", summary: "", help: "", hidden: true },
];

/// Flag values as given, before the checks across flags.
#[derive(Debug, Default)]
struct Args {
    debug: bool,
    help: bool,
    version: bool,
    rev: Option<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    files: Vec<String>,
    json: bool,
}

pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// The name of its value in help (`GLOB`); `None` for a switch.
    pub value: Option<&'static str>,
    /// The commands that accept it; empty for a global flag, accepted anywhere.
    pub commands: &'static [Cmd],
    /// One line for the help table.
    pub help: &'static str,
    /// Records the flag (with its value when it takes one). Errors get the flag name added by the parser.
    apply: fn(&mut Args, Option<String>) -> Result<()>,
}

/// In the order of the help texts: the command's own flags, then the global ones.
pub const FLAGS: &[Flag] = &[
    Flag {
        long: "ref",
        short: None,
        value: Some("REF"),
        commands: &[Cmd::Fetch],
        help: "Branch, tag, commit or refs/pr/N to pin (default: the URL's /tree/REF, else main)",
        apply: |a, v| {
            let v = v.unwrap_or_default();
            if v.is_empty() {
                return Err(usage("empty ref"));
            }
            a.rev = Some(v);
            Ok(())
        },
    },
    Flag {
        long: "include",
        short: None,
        value: Some("GLOB"),
        commands: &[Cmd::Fetch],
        help: "Take only the large (LFS) files matching GLOB; repeatable",
        apply: |a, v| {
            a.include.push(glob_to_regex(&v.unwrap_or_default())?);
            Ok(())
        },
    },
    Flag {
        long: "exclude",
        short: None,
        value: Some("GLOB"),
        commands: &[Cmd::Fetch],
        help: "Leave out the large (LFS) files matching GLOB; repeatable",
        apply: |a, v| {
            a.exclude.push(glob_to_regex(&v.unwrap_or_default())?);
            Ok(())
        },
    },
    Flag {
        long: "file",
        short: None,
        value: Some("PATH"),
        commands: &[Cmd::Fetch],
        help: "Take exactly this file and no other; repeatable",
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
        long: "json",
        short: None,
        value: None,
        commands: &[Cmd::Fetch],
        help: "Print a JSON object instead of the Nix expression",
        apply: |a, _| {
            a.json = true;
            Ok(())
        },
    },
    Flag {
        long: "debug",
        short: None,
        value: None,
        commands: &[],
        help: "Show HTTP requests, commands run and other details on stderr",
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
        apply: |a, _| {
            a.version = true;
            Ok(())
        },
    },
];

const MAIN_HELP: &str = "\
nix-hug: declarative Hugging Face model and dataset fetching for Nix.

Usage: nix-hug [--debug] COMMAND [ARGS...]

Commands:
%commands%

Options:
%options%

Run `nix-hug COMMAND --help` for the options of a command.

Examples:
  nix-hug fetch google-bert/bert-base-uncased
  nix-hug fetch mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors'
";

const FETCH_HELP: &str = "\
Download a Hugging Face model or dataset at one commit, add it to the Nix store, and print the
fetchModel/fetchDataset expression that pins it. Building that expression later finds the output
already in the store instead of downloading it again.

Usage: nix-hug fetch URL [OPTIONS]

URL is org/repo, hf:org/repo, datasets/org/repo, hf-datasets:org/repo, or a web address
https://huggingface.co/[datasets/]org/repo[/tree/REF]. A bare org/repo is looked up as a model
first, then as a dataset.

Options:
%options%

Filters: --include and --exclude choose among the large (LFS) files; the small files (config,
tokenizer, README) always come along, so the result still loads. In a GLOB, * matches any
characters including /, ? one character and [...] a class. --file takes exactly the files named
and cannot be combined with --include or --exclude.

Environment:
  HF_TOKEN     Token for private and gated repos (else $HF_HOME/token, as `hf auth login` writes it)
  HF_ENDPOINT  A Hub mirror (default: https://huggingface.co)
  TMPDIR       Where the download is assembled before it goes into the store

Examples:
  nix-hug fetch google-bert/bert-base-uncased
  nix-hug fetch mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors'
  nix-hug fetch datasets/rajpurkar/squad --ref refs/convert/parquet --json
";

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
        // Help and version win over whatever follows, so `nix-hug fetch --help` needs no URL.
        if args.help {
            return Ok(Cli { debug: args.debug, action: Action::Print(help(command.map(|c| c.cmd))) });
        }
        if args.version {
            return Ok(Cli { debug: args.debug, action: Action::Print(version()) });
        }
    }

    let Some(command) = command else {
        let names: Vec<&str> = COMMANDS.iter().filter(|c| !c.hidden).map(|c| c.name).collect();
        return Err(usage(format!("missing COMMAND ({}); see `nix-hug --help`", names.join(", "))));
    };
    let debug = args.debug;
    let action = match command.cmd {
        Cmd::Fetch => Action::Fetch(fetch_args(args, positional)?),
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
    let names: Vec<&str> =
        COMMANDS.iter().filter(|c| flag.commands.contains(&c.cmd) && !c.hidden).map(|c| c.name).collect();
    names.join("|")
}

/// `fetch`'s checks across flags.
fn fetch_args(args: Args, positional: Vec<String>) -> Result<FetchArgs> {
    let mut positional = positional.into_iter();
    let url = positional.next().ok_or_else(|| usage("fetch: missing URL; see `nix-hug fetch --help`"))?;
    if let Some(extra) = positional.next() {
        return Err(usage(format!("fetch: unexpected argument {extra:?} (one URL per fetch)")));
    }
    if !args.files.is_empty() && (!args.include.is_empty() || !args.exclude.is_empty()) {
        return Err(usage("--file takes exactly the files named and cannot be combined with --include or --exclude"));
    }
    let filters = Filters { include: args.include, exclude: args.exclude, files: args.files };
    Ok(FetchArgs { url, rev: args.rev, filters, json: args.json })
}

fn lexopt_error(e: lexopt::Error) -> Error {
    match e {
        lexopt::Error::UnexpectedValue { option, .. } => usage(format!("{option} takes no value")),
        other => usage(other.to_string()),
    }
}

pub fn version() -> String {
    format!("nix-hug {}\n", env!("CARGO_PKG_VERSION"))
}

/// The help of a command, or the main help when `None`.
pub fn help(cmd: Option<Cmd>) -> String {
    match COMMANDS.iter().find(|c| Some(c.cmd) == cmd && !c.hidden) {
        Some(c) => c.help.replace("%options%", &options_table(|f| f.commands.contains(&c.cmd))),
        None => {
            let commands: Vec<(String, &str)> =
                COMMANDS.iter().filter(|c| !c.hidden).map(|c| (c.name.to_owned(), c.summary)).collect();
            MAIN_HELP
                .replace("%commands%", &table(&commands))
                .replace("%options%", &options_table(|f| f.commands.is_empty()))
        }
    }
}

/// The flags `show` picks, and then the global ones, as an aligned table.
fn options_table(show: impl Fn(&Flag) -> bool) -> String {
    let rows: Vec<(String, &str)> = FLAGS
        .iter()
        .filter(|f| show(f) || f.commands.is_empty())
        .map(|f| {
            let short = f.short.map_or("    ".to_owned(), |c| format!("-{c}, "));
            let value = f.value.map_or(String::new(), |v| format!(" {v}"));
            (format!("{short}--{}{value}", f.long), f.help)
        })
        .collect();
    table(&rows)
}

fn table(rows: &[(String, &str)]) -> String {
    let width = rows.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows.iter().map(|(left, right)| format!("  {left:width$}  {right}")).collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn parse_str(args: &[&str]) -> Result<Cli> {
        parse(args.iter().map(OsString::from))
    }

    fn fetch(args: &[&str]) -> FetchArgs {
        match parse_str(args).unwrap_or_else(|e| panic!("{args:?}: {e}")).action {
            Action::Fetch(f) => f,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        let e = parse_str(args).expect_err(&format!("{args:?} must be refused"));
        assert_eq!(e.kind(), Kind::Usage, "{args:?}: {e}");
        e.to_string()
    }

    #[test]
    fn every_spelling() {
        let want = FetchArgs {
            url: "acme/bert".into(),
            rev: Some("v1".into()),
            filters: Filters { include: vec![r".*\.safetensors".into()], ..Default::default() },
            json: true,
        };
        for args in [
            &["fetch", "acme/bert", "--ref", "v1", "--include", "*.safetensors", "--json"][..],
            &["fetch", "--ref=v1", "--include=*.safetensors", "--json", "acme/bert"],
            &["fetch", "--json", "--include", "*.safetensors", "acme/bert", "--ref", "v1"],
            &["fetch", "--ref", "v1", "--include", "*.safetensors", "--json", "--", "acme/bert"],
        ] {
            assert_eq!(fetch(args), want, "{args:?}");
        }
        let f = fetch(&["fetch", "x/y", "--exclude", "*.bin", "--exclude", "onnx/*"]);
        assert_eq!(f.filters.exclude, vec![r".*\.bin", "onnx/.*"]);
        assert_eq!(
            fetch(&["fetch", "x/y", "--file", "a.json", "--file", "b/c.txt"]).filters.files,
            vec!["a.json", "b/c.txt"]
        );
        assert_eq!(fetch(&["fetch", "x/y", "--ref", "v1", "--ref", "v2"]).rev.as_deref(), Some("v2"));
        assert_eq!(
            fetch(&["fetch", "x/y"]),
            FetchArgs { url: "x/y".into(), rev: None, filters: Filters::default(), json: false }
        );
    }

    #[test]
    fn debug_anywhere() {
        for args in [&["--debug", "fetch", "x/y"][..], &["fetch", "x/y", "--debug"]] {
            assert!(parse_str(args).unwrap().debug, "{args:?}");
        }
        assert!(!parse_str(&["fetch", "x/y"]).unwrap().debug);
    }

    #[test]
    fn help_and_version() {
        let print = |args: &[&str]| match parse_str(args).unwrap().action {
            Action::Print(text) => text,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(print(&["--help"]), help(None));
        assert_eq!(print(&["-h"]), help(None));
        assert_eq!(print(&["fetch", "--help"]), help(Some(Cmd::Fetch)));
        assert_eq!(print(&["fetch", "-h", "--bogus"]), help(Some(Cmd::Fetch)), "help wins over what follows");
        assert_eq!(print(&["--version"]), version());
        assert_eq!(print(&["-V"]), version());
        assert!(version().starts_with("nix-hug "));
    }

    #[test]
    fn builder_commands() {
        assert_eq!(parse_str(&["__fetch"]).unwrap().action, Action::BuilderFetch);
        assert_eq!(parse_str(&["__cache"]).unwrap().action, Action::BuilderCache);
        assert!(usage_error(&["__fetch", "x"]).contains("takes no arguments"));
    }

    #[test]
    fn refusals_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "missing COMMAND"),
            (&["fetsh", "x/y"], "unknown command \"fetsh\""),
            (&["fetch"], "missing URL"),
            (&["fetch", "x/y", "z/w"], "unexpected argument \"z/w\""),
            (&["fetch", "x/y", "--bogus"], "unknown flag --bogus"),
            (&["fetch", "x/y", "-x"], "unknown flag -x"),
            (&["fetch", "x/y", "--ref"], "--ref needs a value"),
            (&["fetch", "x/y", "--ref="], "--ref: empty ref"),
            (&["fetch", "x/y", "--include", "[abc"], "--include: invalid glob \"[abc\""),
            (&["fetch", "x/y", "--exclude", "a[b"], "--exclude: invalid glob"),
            (&["fetch", "x/y", "--json=yes"], "--json takes no value"),
            (&["fetch", "x/y", "--file", "a", "--include", "*.bin"], "--file"),
            (&["fetch", "x/y", "--exclude", "*.bin", "--file", "a"], "--file"),
            (&["--include", "*.bin", "fetch", "x/y"], "--include goes after a command"),
            (&["__fetch", "--include", "*.bin"], "__fetch does not accept --include"),
        ];
        for (args, want) in cases {
            let msg = usage_error(args);
            assert!(msg.contains(want), "{args:?}: {msg:?} should contain {want:?}");
        }
    }

    #[test]
    fn tables_are_consistent() {
        for (i, a) in FLAGS.iter().enumerate() {
            for b in &FLAGS[i + 1..] {
                assert_ne!(a.long, b.long);
                assert!(a.short.is_none() || a.short != b.short, "{} and {}", a.long, b.long);
            }
        }
        let main = help(None);
        let fetch = help(Some(Cmd::Fetch));
        for flag in FLAGS {
            let text = if flag.commands.is_empty() { &main } else { &fetch };
            assert!(text.contains(&format!("--{}", flag.long)), "--{} missing from help", flag.long);
            assert!(fetch.contains(&format!("--{}", flag.long)), "--{} missing from fetch help", flag.long);
        }
        for c in COMMANDS {
            assert_eq!(main.contains(c.name), !c.hidden, "{}", c.name);
            assert_eq!(fetch.contains(c.name), c.cmd == Cmd::Fetch, "{}", c.name);
        }
        assert!(!main.contains('%') && !fetch.contains('%'), "unfilled slot");
    }
}
