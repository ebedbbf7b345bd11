/*!
The command line: argv in, a validated `Cli` out. `flags` holds the two tables the command line is made
of (`COMMANDS`, `FLAGS`); this module walks argv with lexopt, looks every name up in them, then checks
across flags. `help` and `complete` render the same tables as help texts and shell completions. Never
I/O beyond argv: help, version and completions come back as text for `cmd` to print.
*/

mod complete;
mod flags;
mod help;
mod texts;

use crate::error::{Error, Result, usage};
use crate::filter::{Filters, glob_to_regex};
use crate::prefetch::Target;
use crate::repo::{RepoPath, RepoUrl, parse_url};
use flags::{Args, COMMANDS, Cmd, Command, DEFAULT_JOBS, FLAGS, Flag, find_flag, top_level_commands, visible_commands};
use help::{help, version};
use std::ffi::OsString;
use std::path::PathBuf;

/// What to do, once argv is understood.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    pub debug: bool,
    pub quiet: bool,
    pub action: Action,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Print this text on stdout (help, version or a completion script) and succeed.
    Print(String),
    Fetch(FetchArgs),
    Ls(LsArgs),
    Refs {
        url: String,
        json: bool,
    },
    /// `export` fetches what `fetch` would.
    Export(FetchArgs),
    Import(ImportArgs),
    StoreLs {
        json: bool,
    },
    StorePath,
    /// The hidden builder commands run by `lib/` derivations in the sandbox.
    BuilderFetch,
    BuilderCache,
    BuilderLock,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FetchArgs {
    pub target: Target,
    pub output: Output,
    /// Parallel requests.
    pub jobs: usize,
    /// `--dry-run`: plan, say what it would take, write nothing.
    pub dry_run: bool,
    /// `--out-link`: a garbage-collector root to make at this path.
    pub out_link: Option<PathBuf>,
}

/// What `fetch` prints on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Expression,
    Json,
    /// Only the `fileTreeHash`.
    Hash,
}

#[derive(Debug, PartialEq, Eq)]
pub struct LsArgs {
    pub target: Target,
    pub json: bool,
}

/// What `import` puts back into the store.
#[derive(Debug, PartialEq, Eq)]
pub enum ImportArgs {
    All,
    /// The exports of the repository `url` names, at commits starting with `rev` when given.
    Url {
        url: String,
        rev: Option<String>,
    },
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
                    Some(c) if c.subcommands().next().is_some() => command = Some(find_command(Some(c), &value)?),
                    Some(_) => positional.push(value),
                    None => command = Some(find_command(None, &value)?),
                }
                continue;
            }
            Arg::Long(name) => (find_flag(command.map(|c| c.cmd), |f| f.long == name), format!("--{name}")),
            Arg::Short(c) => (find_flag(command.map(|c| c.cmd), |f| f.short == Some(c)), format!("-{c}")),
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
            (_, _, Some(shell)) => complete::script(shell),
            _ => continue,
        };
        return Ok(Cli { debug: args.debug, quiet: args.quiet, action: Action::Print(print) });
    }

    let Some(command) = command else {
        let names: Vec<&str> = top_level_commands().map(|c| c.name).collect();
        return Err(usage(format!("missing COMMAND ({}); see `nix-hug --help`", names.join(", "))));
    };
    let (debug, quiet) = (args.debug, args.quiet);
    if debug && quiet {
        return Err(usage("--quiet and --debug ask for opposite things; give one"));
    }
    let action = match command.cmd {
        Cmd::Fetch => Action::Fetch(fetch_args(command, args, positional)?),
        Cmd::Export => Action::Export(fetch_args(command, args, positional)?),
        Cmd::Ls => {
            let json = args.json;
            Action::Ls(LsArgs { target: target(command, args, positional)?, json })
        }
        Cmd::Refs => Action::Refs { url: one_url(command, positional)?, json: args.json },
        Cmd::Import => Action::Import(import_args(args, positional)?),
        Cmd::Store => return Err(missing_subcommand(command)),
        Cmd::StoreLs => {
            no_arguments(command, &positional)?;
            Action::StoreLs { json: args.json }
        }
        Cmd::StorePath => {
            no_arguments(command, &positional)?;
            Action::StorePath
        }
        Cmd::BuilderFetch => Action::BuilderFetch,
        Cmd::BuilderCache => Action::BuilderCache,
        Cmd::BuilderLock => Action::BuilderLock,
    };
    Ok(Cli { debug, quiet, action })
}

/// The command `word` names, on its own or after a group (`ls` after `store`).
fn find_command(group: Option<&Command>, word: &str) -> Result<&'static Command> {
    let name = group.map_or_else(|| word.to_owned(), |g| format!("{} {word}", g.name));
    COMMANDS.iter().find(|c| c.name == name).ok_or_else(|| match group {
        Some(g) => {
            let words: Vec<&str> = g.subcommands().map(Command::word).collect();
            let nearest = nearest(word, &words).map_or(String::new(), |w| format!("; did you mean `{w}`?"));
            usage(format!(
                "unknown command {name:?}: `nix-hug {}` is followed by {}{nearest}",
                g.name,
                words.join(" or ")
            ))
        }
        None => {
            let names: Vec<&str> = top_level_commands().map(|c| c.name).collect();
            match nearest(word, &names) {
                Some(name) => usage(format!("unknown command {word:?}; did you mean `nix-hug {name}`?")),
                None => usage(format!(
                    "unknown command {word:?}; see `nix-hug --help` (a URL goes after a command: nix-hug fetch URL)"
                )),
            }
        }
    })
}

/// `nix-hug store` alone names a group, not something to do.
fn missing_subcommand(group: &Command) -> Error {
    let words: Vec<&str> = group.subcommands().map(Command::word).collect();
    usage(format!(
        "`nix-hug {}` is followed by {}; see `nix-hug {} --help`",
        group.name,
        words.join(" or "),
        group.name
    ))
}

/// The one of `names` that `word` is a likely typo of: at most two edits away (a swap of neighbours
/// counting as one, `fecth`), and nearer than any other.
fn nearest<'a>(word: &str, names: &[&'a str]) -> Option<&'a str> {
    let mut by_distance: Vec<(usize, &str)> = names.iter().map(|n| (strsim::osa_distance(word, n), *n)).collect();
    by_distance.sort();
    match by_distance[..] {
        [(d, name), (next, _), ..] if d <= 2 && d < next => Some(name),
        [(d, name)] if d <= 2 => Some(name),
        _ => None,
    }
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
        None => usage(format!("{shown} goes after a command: {} {shown} ...", where_it_goes(flag))),
        Some(c) => usage(format!("{} does not accept {shown}; see `{see}`", c.name)),
    })
}

/// `nix-hug fetch|ls URL`: the commands that accept a flag of that name.
fn where_it_goes(flag: &Flag) -> String {
    let accepts = |c: &Command| FLAGS.iter().any(|f| f.long == flag.long && f.commands.contains(&c.cmd));
    let commands: Vec<&Command> = visible_commands().filter(|c| accepts(c)).collect();
    let names: Vec<&str> = commands.iter().map(|c| c.name).collect();
    let url = if commands.iter().all(|c| c.url) { " URL" } else { "" };
    format!("nix-hug {}{url}", names.join("|"))
}

fn fetch_args(command: &Command, args: Args, positional: Vec<String>) -> Result<FetchArgs> {
    let output = match (args.json, args.hash) {
        (true, true) => return Err(usage("--json and --hash each choose what is printed; give one")),
        (true, false) => Output::Json,
        (false, true) => Output::Hash,
        (false, false) => Output::Expression,
    };
    if args.dry_run && (args.hash || args.out_link.is_some()) {
        let flag = if args.hash { "--hash" } else { "--out-link" };
        return Err(usage(format!("--dry-run writes nothing and finds no hash: it does not go with {flag}")));
    }
    let (jobs, dry_run, out_link) = (args.jobs.unwrap_or(DEFAULT_JOBS), args.dry_run, args.out_link.clone());
    let target = target(command, args, positional)?;
    Ok(FetchArgs { target, output, jobs, dry_run, out_link: out_link.map(PathBuf::from) })
}

fn import_args(args: Args, positional: Vec<String>) -> Result<ImportArgs> {
    let mut positional = positional.into_iter();
    let url = positional.next();
    if let Some(extra) = positional.next() {
        return Err(usage(format!("import: unexpected argument {extra:?} (one URL at a time, or --all)")));
    }
    match (url, args.all) {
        (Some(url), false) => {
            let parsed = parse_url(&url)?;
            if let Some(path) = parsed.path {
                let (what, path) = match path {
                    RepoPath::File(file) => ("file", file),
                    RepoPath::Folder(dir) => ("folder", dir),
                };
                return Err(usage(format!(
                    "import: the URL names a {what} ({path:?}), but import puts back whole exports; give the \
                     repository's URL"
                )));
            }
            one_ref(&parsed, args.rev.as_deref())?;
            Ok(ImportArgs::Url { url, rev: args.rev })
        }
        (None, true) if args.rev.is_none() => Ok(ImportArgs::All),
        (None, true) => Err(usage("import: --ref chooses among the exports of one URL; it does not go with --all")),
        (Some(url), true) => {
            Err(usage(format!("import: --all imports every export; it does not go with a URL ({url:?})")))
        }
        (None, false) => Err(usage("import: missing URL (or --all); see `nix-hug import --help`")),
    }
}

/// `--ref` and a URL's ref (`/tree/REF`, `/blob/REF`…) that differ: which one was meant is not ours to guess.
fn one_ref(url: &RepoUrl, rev: Option<&str>) -> Result<()> {
    match (rev, &url.rev) {
        (Some(rev), Some(in_url)) if rev != in_url => {
            Err(usage(format!("--ref {rev} and the URL's ref {in_url} name two refs; give one")))
        }
        _ => Ok(()),
    }
}

fn no_arguments(command: &Command, positional: &[String]) -> Result<()> {
    match positional.first() {
        Some(extra) => Err(usage(format!("{}: unexpected argument {extra:?}", command.name))),
        None => Ok(()),
    }
}

/// The URL of a command that takes one, and nothing else.
fn one_url(command: &Command, positional: Vec<String>) -> Result<String> {
    let name = command.name;
    let mut positional = positional.into_iter();
    let url = positional.next().ok_or_else(|| usage(format!("{name}: missing URL; see `nix-hug {name} --help`")))?;
    if let Some(extra) = positional.next() {
        return Err(usage(format!("{name}: unexpected argument {extra:?} (one URL at a time)")));
    }
    Ok(url)
}

/// The one URL and the filters of `fetch`, `ls` and `export`, checked across flags.
fn target(command: &Command, args: Args, positional: Vec<String>) -> Result<Target> {
    let url = parse_url(&one_url(command, positional)?)?;
    let mut includes = (args.include.iter())
        .map(|glob| Ok((format!("--include {glob:?}"), glob_to_regex(glob)?)))
        .collect::<Result<Vec<_>>>()?;
    let file_flags = !args.files.is_empty();
    let mut files = args.files;
    match &url.path {
        Some(RepoPath::Folder(dir)) if !includes.is_empty() || file_flags => {
            return Err(usage(format!(
                "the URL's folder {dir:?} already chooses the files; it does not go with --include or --file"
            )));
        }
        // What --include 'DIR/*' gives, but literal: a folder may be named like a glob.
        Some(RepoPath::Folder(dir)) => {
            includes.push((format!("the URL's folder {dir:?}"), format!("{}/.*", regex::escape(dir))))
        }
        Some(RepoPath::File(file)) => files.push(file.clone()),
        None => {}
    }
    if !files.is_empty() && (!includes.is_empty() || !args.exclude.is_empty()) {
        let what = if file_flags { "--file" } else { "a /blob or /resolve URL" };
        return Err(usage(format!(
            "{what} takes exactly the files named and cannot be combined with --include or --exclude"
        )));
    }
    one_ref(&url, args.rev.as_deref())?;
    includes.sort();
    includes.dedup();
    let exclude = args.exclude.iter().map(|g| glob_to_regex(g)).collect::<Result<Vec<_>>>()?;
    let include = includes.iter().map(|(_, re)| re.clone()).collect();
    let filters = Filters { include, exclude, files };
    Ok(Target { url, rev: args.rev, filters: filters.canonical(), includes })
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

    /// The target of `url` at `rev` with these filters, given as `--include include_globs…` (and more).
    fn target(url: &str, rev: Option<&str>, filters: Filters, include_globs: &[&str]) -> Target {
        let includes = (include_globs.iter().zip(&filters.include))
            .map(|(glob, re)| (format!("--include {glob:?}"), re.clone()))
            .collect();
        Target { url: parse_url(url).unwrap(), rev: rev.map(Into::into), filters, includes }
    }

    #[test]
    fn every_spelling() {
        let want = FetchArgs {
            target: target(
                "acme/bert",
                Some("v1"),
                Filters { include: vec![r".*\.safetensors".into()], ..Default::default() },
                &["*.safetensors"],
            ),
            output: Output::Json,
            jobs: 3,
            dry_run: false,
            out_link: None,
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
        let twice = parse_str(&["fetch", "x/y", "--ref", "v1", "--ref", "v2"]).unwrap_err().to_string();
        assert_eq!(twice, r#"--ref: given twice ("v1" and "v2"): one ref per run"#);
        let url = "https://huggingface.co/x/y/tree/v1";
        assert_eq!(fetch(&["fetch", url, "--ref", "v1"]).target.rev.as_deref(), Some("v1"), "the same ref twice");
        let conflict = parse_str(&["fetch", url, "--ref", "v2"]).unwrap_err().to_string();
        assert_eq!(conflict, "--ref v2 and the URL's ref v1 name two refs; give one");
        let plain = FetchArgs {
            target: target("x/y", None, Filters::default(), &[]),
            output: Output::Expression,
            jobs: DEFAULT_JOBS,
            dry_run: false,
            out_link: None,
        };
        assert_eq!(fetch(&["fetch", "x/y"]), plain);
        assert_eq!(fetch(&["fetch", "x/y", "--hash"]).output, Output::Hash);
        assert_eq!(fetch(&["fetch", "x/y", "-o", "result"]).out_link, Some(PathBuf::from("result")));
        assert!(fetch(&["fetch", "x/y", "--dry-run", "--json"]).dry_run);
        for (args, why) in [
            (&["fetch", "x/y", "--json", "--hash"][..], "--json and --hash each choose what is printed; give one"),
            (
                &["fetch", "x/y", "--dry-run", "--hash"],
                "--dry-run writes nothing and finds no hash: it does not go with --hash",
            ),
            (
                &["fetch", "x/y", "--dry-run", "-o", "r"],
                "--dry-run writes nothing and finds no hash: it does not go with --out-link",
            ),
            (&["fetch", "x/y", "-o", "a", "-o", "b"], "--out-link: given twice: one link per run"),
            (&["--quiet", "fetch", "x/y", "--debug"], "--quiet and --debug ask for opposite things; give one"),
            (&["ls", "x/y", "--dry-run"], "ls does not accept --dry-run; see `nix-hug ls --help`"),
        ] {
            assert_eq!(usage_error(args), why, "{args:?}");
        }
        assert!(parse_str(&["-q", "fetch", "x/y"]).unwrap().quiet);
        assert_eq!(action(&["refs", "x/y", "--json"]), Action::Refs { url: "x/y".into(), json: true });
        assert_eq!(fetch(&["fetch", "x/y", "--jobs", "1"]).jobs, 1);
        assert_eq!(fetch(&["fetch", "x/y", "--jobs", "64"]).jobs, 64);
    }

    #[test]
    fn ls_takes_the_same_target() {
        let filters =
            Filters { include: vec![r".*\.safetensors".into()], exclude: vec!["onnx/.*".into()], files: vec![] };
        assert_eq!(
            action(&["ls", "acme/bert", "--include", "*.safetensors", "--exclude", "onnx/*", "--ref", "v1"]),
            Action::Ls(LsArgs { target: target("acme/bert", Some("v1"), filters, &["*.safetensors"]), json: false })
        );
        let files = Filters { files: vec!["config.json".into()], ..Default::default() };
        assert_eq!(
            action(&["ls", "--json", "x/y", "--file", "config.json"]),
            Action::Ls(LsArgs { target: target("x/y", None, files, &[]), json: true })
        );
        let both = Filters { include: vec![r".*\.bin".into(), r".*\.json".into()], ..Default::default() };
        assert_eq!(
            action(&["ls", "x/y", "--include", "*.json", "--include", "*.bin", "--include", "*.json"]),
            Action::Ls(LsArgs { target: target("x/y", None, both, &["*.bin", "*.json"]), json: false }),
            "filters in any order, and repeated, are one choice"
        );
    }

    #[test]
    fn file_and_folder_urls_are_filters() {
        let web = "https://huggingface.co/acme/bert";
        let file = fetch(&["fetch", &format!("{web}/blob/v1/onnx/model%20a.onnx")]).target;
        assert_eq!(file.filters, Filters { files: vec!["onnx/model a.onnx".into()], ..Default::default() });
        assert_eq!((file.rev, file.url.rev.as_deref()), (None, Some("v1")), "the URL's ref applies");
        let union = fetch(&["fetch", &format!("{web}/resolve/v1/b.json?download=true"), "--file", "a.json"]);
        assert_eq!(union.target.filters.files, vec!["a.json", "b.json"]);
        assert_eq!(
            fetch(&["fetch", &format!("{web}/blob/v1/a.json"), "--ref", "v1"]).target.rev.as_deref(),
            Some("v1")
        );

        let folder = fetch(&["fetch", &format!("{web}/tree/main/onnx/fp16+x"), "--exclude", "*.bin"]).target;
        let want =
            Filters { include: vec![r"onnx/fp16\+x/.*".into()], exclude: vec![r".*\.bin".into()], files: vec![] };
        assert_eq!(folder.filters, want, "the folder is literal, as --include 'onnx/fp16+x/*' would be");
        assert_eq!(
            folder.includes,
            vec![(r#"the URL's folder "onnx/fp16+x""#.to_owned(), r"onnx/fp16\+x/.*".to_owned())]
        );
        let ls = match action(&["ls", &format!("{web}/tree/main/onnx")]) {
            Action::Ls(ls) => ls.target.filters,
            other => panic!("{other:?}"),
        };
        assert_eq!(ls.include, vec!["onnx/.*"]);

        let said = |args: &[&str]| usage_error(args);
        let folder = format!("{web}/tree/main/onnx");
        let refused = r#"the URL's folder "onnx" already chooses the files; it does not go with --include or --file"#;
        assert_eq!(said(&["fetch", &folder, "--include", "*.onnx"]), refused);
        assert_eq!(said(&["ls", &folder, "--file", "onnx/model.onnx"]), refused);
        let blob = format!("{web}/blob/main/a.json");
        assert_eq!(
            said(&["fetch", &blob, "--include", "*.bin"]),
            "a /blob or /resolve URL takes exactly the files named and cannot be combined with --include or --exclude"
        );
        assert!(said(&["fetch", &blob, "--exclude", "*.bin"]).starts_with("a /blob or /resolve URL takes exactly"));
        assert!(said(&["fetch", &blob, "--file", "b", "--include", "*.bin"]).starts_with("--file takes exactly"));
        assert_eq!(said(&["fetch", &blob, "--ref", "v2"]), "--ref v2 and the URL's ref main name two refs; give one");
        assert_eq!(said(&["ls", &folder, "--ref", "v2"]), "--ref v2 and the URL's ref main name two refs; give one");
        assert_eq!(
            said(&["import", &blob]),
            r#"import: the URL names a file ("a.json"), but import puts back whole exports; give the repository's URL"#
        );
        assert_eq!(
            said(&["import", &format!("{web}/tree/v1"), "--ref", "v2"]),
            "--ref v2 and the URL's ref v1 name two refs; give one"
        );
        assert_eq!(
            said(&["fetch", "https://github.com/acme/bert"]),
            r#"invalid repository URL "https://github.com/acme/bert": not a Hugging Face URL (expected huggingface.co or hf.co)"#
        );
    }

    #[test]
    fn export_takes_what_fetch_takes() {
        let args = ["acme/bert", "--ref", "v1", "--include", "*.safetensors", "--jobs", "2", "--json"];
        let export = match action(&[&["export"][..], &args].concat()) {
            Action::Export(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(export, fetch(&[&["fetch"][..], &args].concat()));
    }

    #[test]
    fn import_one_url_or_all() {
        let url = |url: &str, rev: Option<&str>| {
            Action::Import(ImportArgs::Url { url: url.into(), rev: rev.map(Into::into) })
        };
        assert_eq!(action(&["import", "acme/bert"]), url("acme/bert", None));
        assert_eq!(
            action(&["import", "--ref", "3ff3885", "datasets/acme/squad"]),
            url("datasets/acme/squad", Some("3ff3885"))
        );
        for compat in ["--yes", "-y", "--no-check-sigs"] {
            assert_eq!(action(&["import", "acme/bert", compat]), url("acme/bert", None), "{compat} changes nothing");
            assert_eq!(action(&["import", compat, "--all"]), Action::Import(ImportArgs::All));
        }
        assert_eq!(action(&["import", "--all"]), Action::Import(ImportArgs::All));
    }

    #[test]
    fn store_and_its_commands() {
        assert_eq!(action(&["store", "ls"]), Action::StoreLs { json: false });
        assert_eq!(action(&["store", "ls", "--json"]), Action::StoreLs { json: true });
        assert_eq!(action(&["--debug", "store", "path"]), Action::StorePath);
        let alone = parse_str(&["store"]).unwrap_err();
        assert_eq!(alone.kind(), crate::error::Kind::Usage, "a group alone is a usage error, as nix-hug alone is");
        assert_eq!(alone.to_string(), "`nix-hug store` is followed by ls or path; see `nix-hug store --help`");
        assert_eq!(action(&["store", "--help"]), Action::Print(help(Some(Cmd::Store))));
        assert_eq!(action(&["store", "ls", "-h"]), Action::Print(help(Some(Cmd::StoreLs))));
    }

    #[test]
    fn typos_of_commands() {
        let said = |args: &[&str]| parse_str(args).unwrap_err().to_string();
        assert_eq!(said(&["fecth", "x/y"]), r#"unknown command "fecth"; did you mean `nix-hug fetch`?"#);
        assert_eq!(said(&["exprot"]), r#"unknown command "exprot"; did you mean `nix-hug export`?"#);
        assert_eq!(
            said(&["store", "pth"]),
            r#"unknown command "store pth": `nix-hug store` is followed by ls or path; did you mean `path`?"#
        );
        assert!(said(&["frobnicate"]).contains("see `nix-hug --help`"), "nothing near: no guess");
        assert!(!said(&["__fetc"]).contains("did you mean"), "hidden commands are never suggested");
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
            (&[], "missing COMMAND (fetch, ls, refs, export, import, store)"),
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
            (&["--include", "*.bin", "fetch", "x/y"], "--include goes after a command: nix-hug fetch|ls|export URL"),
            (&["--jobs", "2", "fetch", "x/y"], "--jobs goes after a command: nix-hug fetch|export URL"),
            (&["--json", "store", "ls"], "--json goes after a command: nix-hug fetch|ls|refs|export|store ls --json"),
            (&["--all", "import"], "--all goes after a command: nix-hug import URL --all"),
            (&["--ref", "v1", "fetch", "x/y"], "--ref goes after a command: nix-hug fetch|ls|export|import URL --ref"),
            (&["store", "lst"], "unknown command \"store lst\": `nix-hug store` is followed by ls or path"),
            (&["store", "ls", "x/y"], "store ls: unexpected argument \"x/y\""),
            (&["store", "path", "--json"], "store path does not accept --json"),
            (&["store", "--json", "ls"], "store does not accept --json"),
            (&["store", "ls", "--ref", "v1"], "store ls does not accept --ref"),
            (&["ls", "x/y", "--all"], "ls does not accept --all"),
            (&["fetch", "x/y", "-y"], "fetch does not accept -y"),
            (&["import"], "import: missing URL (or --all)"),
            (&["import", "x/y", "--all"], "import: --all imports every export; it does not go with a URL"),
            (&["import", "--all", "--ref", "abc"], "import: --ref chooses among the exports of one URL"),
            (&["import", "x/y", "z/w"], "import: unexpected argument \"z/w\""),
            (&["import", "x/y", "--ref="], "--ref: empty ref"),
            (&["import", "x/y", "--include", "*.bin"], "import does not accept --include"),
            (&["export"], "export: missing URL"),
            (&["export", "x/y", "--file", "a", "--exclude", "*.bin"], "--file"),
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
