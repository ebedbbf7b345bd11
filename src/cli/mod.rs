/*!
The command line: argv in, a validated `Cli` out. `flags` holds the table the command line is made of;
this module walks argv with lexopt, looks every name up there, then checks across flags. `help` and
`complete` render the same table as help texts and shell completions. Never I/O beyond argv: help,
version and completions come back as text for `cmd` to print.
*/

mod complete;
mod flags;
mod help;

use crate::error::{Result, usage};
use crate::filter::{Filters, glob_to_regex};
use crate::prefetch::Target;
use crate::repo::{RepoPath, RepoUrl, parse_url};
use flags::{COMMANDS, Command, FLAGS, Flag, commands_after, visible_commands};
use help::help;
use lexopt::Arg;
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
    /// `import`, from the persist directory served at `from` when given.
    Import {
        what: ImportArgs,
        from: Option<String>,
    },
    StoreLs {
        json: bool,
    },
    StorePath,
    /// `store rm`: the exports these URLs or store paths name.
    StoreRm(Vec<String>),
    StorePrune,
    StoreVerify,
    StoreRebuildManifest,
    /// `add`: pin `target` in the lock as `name` (default: the repository's name).
    Add {
        target: Target,
        name: Option<String>,
        pins: Pins,
    },
    /// `update`: follow the refs of these entries (all without names), or bump the pins of these Nix files.
    Update {
        names: Vec<String>,
        check: bool,
        pins: Pins,
    },
    Remove {
        names: Vec<String>,
        pins: Pins,
    },
    /// `lock`: every entry again at its commit.
    Lock(Pins),
    /// The hidden builder commands run by `lib/` derivations in the sandbox.
    BuilderFetch,
    BuilderCache,
    BuilderLock,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FetchArgs {
    pub target: Target,
    pub output: Output,
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

/// What the lock file commands share.
#[derive(Debug, PartialEq, Eq)]
pub struct Pins {
    pub lock: PathBuf,
    pub json: bool,
    pub jobs: usize,
    /// Put the files pinned into the store (no `--no-seed`).
    pub seed: bool,
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

/// The workers of `--jobs` when it is not given, and its bound.
const DEFAULT_JOBS: usize = 8;
const MAX_JOBS: usize = 64;

/// The flags given, in the order given, each with its value (empty for a switch).
#[derive(Default)]
struct Given(Vec<(&'static str, String)>);

impl Given {
    fn all(&self, long: &str) -> impl Iterator<Item = &str> {
        debug_assert!(FLAGS.iter().any(|f| f.long == long), "--{long} is not in FLAGS");
        self.0.iter().filter(move |(l, _)| *l == long).map(|(_, v)| v.as_str())
    }

    fn one(&self, long: &str) -> Option<&str> {
        self.all(long).next()
    }

    fn has(&self, long: &str) -> bool {
        self.one(long).is_some()
    }
}

/// Parses argv (without the program name).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Cli> {
    let mut parser = lexopt::Parser::from_args(argv);
    let (mut given, mut command, mut positional) = (Given::default(), None::<&Command>, Vec::new());
    while let Some(arg) = parser.next().map_err(|e| match e {
        lexopt::Error::UnexpectedValue { option, .. } => usage(format!("{option} takes no value")),
        other => usage(other.to_string()),
    })? {
        let shown = match arg {
            Arg::Long(name) => format!("--{name}"),
            Arg::Short(c) => format!("-{c}"),
            Arg::Value(value) => {
                let value = value.into_string().map_err(|v| usage(format!("argument {v:?} is not valid UTF-8")))?;
                match command {
                    Some(c) if c.hidden() => return Err(usage(format!("{} takes no arguments", c.name))),
                    Some(c) if !c.is_group() => positional.push(value),
                    group => command = Some(find_command(group, &value)?),
                }
                continue;
            }
        };
        let flag = find_flag(command, &shown)?;
        let long = flag.long;
        let value = match flag.value {
            Some(name) => (parser.value().map_err(|_| usage(format!("--{long} needs a value: --{long} {name}")))?)
                .into_string()
                .map_err(|v| usage(format!("--{long}: {v:?} is not valid UTF-8")))?,
            None => String::new(),
        };
        // Help, version and completions win over whatever follows, so `nix-hug fetch --help` needs no URL.
        let print = match long {
            "help" => help(command),
            "version" => format!("nix-hug {}\n", env!("CARGO_PKG_VERSION")),
            "generate" => complete::script(&value).map_err(|e| e.context("--generate"))?,
            _ => {
                check(&given, long, &value).map_err(|e| e.context(format!("--{long}")))?;
                given.0.push((long, value));
                continue;
            }
        };
        return Ok(Cli { debug: given.has("debug"), quiet: given.has("quiet"), action: Action::Print(print) });
    }

    let Some(command) = command else {
        let names: Vec<&str> = commands_after(None).map(|c| c.name).collect();
        return Err(usage(format!("missing COMMAND ({}); see `nix-hug --help`", names.join(", "))));
    };
    let (debug, quiet, json) = (given.has("debug"), given.has("quiet"), given.has("json"));
    if debug && quiet {
        return Err(usage("--quiet and --debug ask for opposite things; give one"));
    }
    let action = match command.name {
        "fetch" => Action::Fetch(fetch_args(command, &given, positional)?),
        "export" => Action::Export(fetch_args(command, &given, positional)?),
        "ls" => Action::Ls(LsArgs { target: target(command, &given, positional)?, json }),
        "refs" => Action::Refs { url: one_url(command, positional)?, json },
        "import" => {
            Action::Import { what: import_args(&given, positional)?, from: given.one("from").map(str::to_owned) }
        }
        "add" => Action::Add {
            target: target(command, &given, positional)?,
            name: given.one("name").map(str::to_owned),
            pins: pins(&given)?,
        },
        "update" => Action::Update { names: positional, check: given.has("check"), pins: pins(&given)? },
        "remove" if positional.is_empty() => return Err(usage("remove: missing NAME; see `nix-hug remove --help`")),
        "remove" => Action::Remove { names: positional, pins: pins(&given)? },
        name @ ("store ls" | "store path" | "store prune" | "store verify" | "store rebuild-manifest" | "lock")
            if let Some(extra) = positional.first() =>
        {
            return Err(usage(format!("{name}: unexpected argument {extra:?}")));
        }
        "store ls" => Action::StoreLs { json },
        "store path" => Action::StorePath,
        "store rm" if positional.is_empty() => {
            return Err(usage("store rm: missing URL or STORE-PATH; see `nix-hug store rm --help`"));
        }
        "store rm" => {
            for url in positional.iter().filter(|p| !p.starts_with('/')) {
                one_repo(command.name, url, None)?;
            }
            Action::StoreRm(positional)
        }
        "store prune" => Action::StorePrune,
        "store verify" => Action::StoreVerify,
        "store rebuild-manifest" => Action::StoreRebuildManifest,
        "lock" => Action::Lock(pins(&given)?),
        "__fetch" => Action::BuilderFetch,
        "__cache" => Action::BuilderCache,
        "__lock" => Action::BuilderLock,
        // A group alone (`nix-hug store`) names nothing to do, as `nix-hug` alone does not.
        group => return Err(usage(format!("{}; see `nix-hug {group} --help`", followed_by(command)))),
    };
    Ok(Cli { debug, quiet, action })
}

/// "`nix-hug store` is followed by ls, path, … or rebuild-manifest".
fn followed_by(group: &Command) -> String {
    let words: Vec<&str> = commands_after(Some(group)).map(Command::word).collect();
    let words = match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    };
    format!("`nix-hug {}` is followed by {words}", group.name)
}

/// The command `word` names, on its own or after a group (`ls` after `store`).
fn find_command(group: Option<&Command>, word: &str) -> Result<&'static Command> {
    let name = group.map_or_else(|| word.to_owned(), |g| format!("{} {word}", g.name));
    if let Some(c) = COMMANDS.iter().find(|c| c.name == name) {
        return Ok(c);
    }
    // A likely typo: at most two edits away (a swap of neighbours counting as one, `fecth`), and
    // nearer than any other command.
    let words: Vec<&str> = commands_after(group).map(Command::word).collect();
    let distance = |w: &str| strsim::osa_distance(word, w);
    let nearest = words.iter().copied().min_by_key(|w| distance(w)).filter(|n| distance(n) <= 2);
    let guess = nearest.filter(|n| words.iter().filter(|w| distance(w) == distance(n)).count() == 1);
    Err(usage(match (group, guess) {
        (Some(g), guess) => {
            let guess = guess.map_or(String::new(), |w| format!("; did you mean `{w}`?"));
            format!("unknown command {name:?}: {}{guess}", followed_by(g))
        }
        (None, Some(guess)) => format!("unknown command {word:?}; did you mean `nix-hug {guess}`?"),
        (None, None) => {
            format!("unknown command {word:?}; see `nix-hug --help` (a URL goes after a command: nix-hug fetch URL)")
        }
    }))
}

/// The flag spelled `shown` (`--ref`, `-o`), if the command in effect accepts it; else an error that
/// says where it belongs.
fn find_flag(command: Option<&Command>, shown: &str) -> Result<&'static Flag> {
    let named = |f: &&Flag| shown == format!("--{}", f.long) || f.short.is_some_and(|c| shown == format!("-{c}"));
    // Of two flags of one name (`--ref`), the one this command accepts.
    let flag = FLAGS.iter().filter(named).min_by_key(|f| !f.accepted_by(command));
    let see = command.filter(|c| !c.hidden()).map_or("nix-hug --help".into(), |c| format!("nix-hug {} --help", c.name));
    match (flag, command) {
        (None, _) => Err(usage(format!("unknown flag {shown}; see `{see}`"))),
        (Some(flag), _) if flag.accepted_by(command) => Ok(flag),
        (Some(flag), None) => {
            let accepts = |c: &&Command| FLAGS.iter().any(|f| f.long == flag.long && f.accepted_by(Some(c)));
            let commands: Vec<&Command> = visible_commands().filter(accepts).collect();
            let names: Vec<&str> = commands.iter().map(|c| c.name).collect();
            let url = if commands.iter().all(|c| c.url) { " URL" } else { "" };
            Err(usage(format!("{shown} goes after a command: nix-hug {}{url} {shown} ...", names.join("|"))))
        }
        (Some(_), Some(c)) => Err(usage(format!("{} does not accept {shown}; see `{see}`", c.name))),
    }
}

/// Checks the value of a flag on its own, as argv is read, so that the first bad one is the one reported.
fn check(given: &Given, long: &str, value: &str) -> Result<()> {
    match long {
        "ref" if value.is_empty() => Err(usage("empty ref")),
        "ref" if let Some(first) = given.one("ref") => {
            Err(usage(format!("given twice ({first:?} and {value:?}): one ref per run")))
        }
        "include" | "exclude" if value.is_empty() => Err(usage("an empty pattern matches no file")),
        "include" | "exclude" => glob_to_regex(value).map(drop),
        "file" | "out-link" | "lock" if value.is_empty() => Err(usage("empty path")),
        "from" if value.is_empty() => Err(usage("empty URL")),
        "from" if given.has("from") => Err(usage("given twice: one persist directory per run")),
        "name" if value.is_empty() => Err(usage("empty name")),
        "out-link" if given.has("out-link") => Err(usage("given twice: one link per run")),
        "jobs" => jobs(value).map(drop),
        _ => Ok(()),
    }
}

fn jobs(value: &str) -> Result<usize> {
    let n = value.parse().ok().filter(|n| (1..=MAX_JOBS).contains(n));
    n.ok_or_else(|| usage(format!("expected a number from 1 to {MAX_JOBS}, got {value:?}")))
}

fn fetch_args(command: &Command, given: &Given, positional: Vec<String>) -> Result<FetchArgs> {
    let output = match (given.has("json"), given.has("hash")) {
        (true, true) => return Err(usage("--json and --hash each choose what is printed; give one")),
        (true, false) => Output::Json,
        (false, true) => Output::Hash,
        (false, false) => Output::Expression,
    };
    let (dry_run, out_link) = (given.has("dry-run"), given.one("out-link").map(PathBuf::from));
    if dry_run && (output == Output::Hash || out_link.is_some()) {
        let flag = if output == Output::Hash { "--hash" } else { "--out-link" };
        return Err(usage(format!("--dry-run writes nothing and finds no hash: it does not go with {flag}")));
    }
    let jobs = given.one("jobs").map_or(Ok(DEFAULT_JOBS), jobs)?;
    Ok(FetchArgs { target: target(command, given, positional)?, output, jobs, dry_run, out_link })
}

fn pins(given: &Given) -> Result<Pins> {
    let lock = PathBuf::from(given.one("lock").unwrap_or(crate::lock::FILE_NAME));
    let jobs = given.one("jobs").map_or(Ok(DEFAULT_JOBS), jobs)?;
    Ok(Pins { lock, json: given.has("json"), jobs, seed: !given.has("no-seed") })
}

fn import_args(given: &Given, positional: Vec<String>) -> Result<ImportArgs> {
    let rev = given.one("ref").map(str::to_owned);
    let why = match (&positional[..], given.has("all")) {
        ([_, extra, ..], _) => format!("unexpected argument {extra:?} (one URL at a time, or --all)"),
        ([url], false) => {
            return one_repo("import", url, rev.as_deref()).map(|()| ImportArgs::Url { url: url.clone(), rev });
        }
        ([url], true) => format!("--all imports every export; it does not go with a URL ({url:?})"),
        ([], true) if rev.is_some() => "--ref chooses among the exports of one URL; it does not go with --all".into(),
        ([], true) => return Ok(ImportArgs::All),
        ([], false) => "missing URL (or --all); see `nix-hug import --help`".into(),
    };
    Err(usage(format!("import: {why}")))
}

/// The URL of `import` and `store rm`: a repository's, with no file or folder in it.
fn one_repo(name: &str, url: &str, rev: Option<&str>) -> Result<()> {
    let url = parse_url(url)?;
    let (what, path) = match &url.path {
        Some(RepoPath::File(file)) => ("file", file),
        Some(RepoPath::Folder(dir)) => ("folder", dir),
        None => return one_ref(&url, rev),
    };
    Err(usage(format!(
        "{name}: the URL names a {what} ({path:?}), but {name} takes whole exports; give the repository's URL"
    )))
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

/// The URL of a command that takes one, and nothing else.
fn one_url(command: &Command, positional: Vec<String>) -> Result<String> {
    let name = command.name;
    match &positional[..] {
        [] => Err(usage(format!("{name}: missing URL; see `nix-hug {name} --help`"))),
        [url] => Ok(url.clone()),
        [_, extra, ..] => Err(usage(format!("{name}: unexpected argument {extra:?} (one URL at a time)"))),
    }
}

/// The one URL and the filters of `fetch`, `ls` and `export`, checked across flags.
fn target(command: &Command, given: &Given, positional: Vec<String>) -> Result<Target> {
    let url = parse_url(&one_url(command, positional)?)?;
    let mut includes = (given.all("include"))
        .map(|glob| Ok((format!("--include {glob:?}"), glob_to_regex(glob)?)))
        .collect::<Result<Vec<_>>>()?;
    let exclude = given.all("exclude").map(glob_to_regex).collect::<Result<Vec<_>>>()?;
    let mut files: Vec<String> = given.all("file").map(str::to_owned).collect();
    let file_flags = !files.is_empty();
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
    if !files.is_empty() && (!includes.is_empty() || !exclude.is_empty()) {
        let what = if file_flags { "--file" } else { "a /blob or /resolve URL" };
        return Err(usage(format!(
            "{what} takes exactly the files named and cannot be combined with --include or --exclude"
        )));
    }
    let rev = given.one("ref").map(str::to_owned);
    one_ref(&url, rev.as_deref())?;
    includes.sort();
    includes.dedup();
    let include = includes.iter().map(|(_, re)| re.clone()).collect();
    Ok(Target { url, rev, filters: Filters { include, exclude, files }.canonical(), includes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nix-hug ARGS` (split at spaces) as the `Cli` it parses to, `{:?}`, or as its usage error. The
    /// snapshots under tests/cmd pin what whole runs print; these are the cases they cannot show.
    fn parsed(args: &str) -> String {
        match parse(args.split_whitespace().map(OsString::from)) {
            Ok(cli) => format!("{cli:?}"),
            Err(e) if e.kind() == crate::error::Kind::Usage => format!("error: {e}"),
            Err(e) => panic!("{args}: not a usage error: {e}"),
        }
    }

    /// Each line: argv, and what it parses to contains (after `=>`), or what it means too (after `==`).
    const CASES: &str = r##"
        fetch --json --include *.bin --jobs 3 --ref v1 -- x/y == fetch x/y --ref=v1 --include=*.bin --json --jobs=3
        ls x/y --include *.json --include *.bin --include *.json == ls x/y --include *.bin --include *.json
        export x/y --ref v1 --include *.bin --jobs 2 => Export(FetchArgs { target: Target { url: RepoUrl { kind: None,
        export x/y --ref v1 --include *.bin --jobs 2 => [("--include \"*.bin\"", ".*\\.bin")] }, output: Expression, jobs: 2,
        import x/y -y --no-check-sigs == import x/y --yes
        fetch --debug x/y == fetch x/y --debug
        fetch x/y --jobs 64 => jobs: 64
        fetch hf.co/x/y/tree/v1 --ref v1 => rev: Some("v1"), path: None }, rev: Some("v1")
        fetch hf.co/x/y/tree/main/onnx/fp16+x --exclude *.bin => filters: Filters { include: ["onnx/fp16\\+x/.*"],
        fetch hf.co/x/y/tree/main/onnx/fp16+x --exclude *.bin => includes: [("the URL's folder \"onnx/fp16+x\"", "onnx/
        __fetch => BuilderFetch
        __cache => BuilderCache
        __fetch --help == --help
        fetch x/y --ref v1 --ref v2 => error: --ref: given twice ("v1" and "v2"): one ref per run
        fetch x/y --dry-run -o r => error: --dry-run writes nothing and finds no hash: it does not go with --out-link
        fetch x/y --out-link= => error: --out-link: empty path
        fetch x/y --file= => error: --file: empty path
        fetch x/y -y => error: fetch does not accept -y; see `nix-hug fetch --help`
        fetch hf.co/x/y/blob/main/a.json --file b --include *.bin => error: --file takes exactly the files named
        import hf.co/x/y/tree/v1 --ref v2 => error: --ref v2 and the URL's ref v1 name two refs
        import --all --ref abc => error: import: --ref chooses among the exports of one URL; it does not go with --all
        import x/y z/w => error: import: unexpected argument "z/w" (one URL at a time, or --all)
        --json store ls => error: --json goes after a command: nix-hug fetch|ls|refs|export|add|update|remove|lock|store ls --json ...
        --all import => error: --all goes after a command: nix-hug import URL --all ...
        --ref v1 fetch x/y => error: --ref goes after a command: nix-hug fetch|ls|export|import|add URL --ref ...
        store path --json => error: store path does not accept --json; see `nix-hug store path --help`
        store --json ls => error: store does not accept --json; see `nix-hug store --help`
        fecth x/y => error: unknown command "fecth"; did you mean `nix-hug fetch`?
        store pth => error: unknown command "store pth": `nix-hug store` is followed by ls, path, rm, prune, verify or rebuild-manifest; did you mean `path`?
        __fetc => error: unknown command "__fetc"; see `nix-hug --help`
        __fetch x => error: __fetch takes no arguments
        __fetch --include *.bin => error: __fetch does not accept --include; see `nix-hug --help`"##;

    #[test]
    fn what_argv_means() {
        for case in CASES.lines().skip(1).map(str::trim) {
            if let Some((args, same)) = case.split_once(" == ") {
                assert_eq!(parsed(args), parsed(same), "{case}");
            } else {
                let (args, want) = case.split_once(" => ").expect(case);
                let got = parsed(args);
                assert!(got.contains(want), "{args}:\n  {got}\nshould contain\n  {want}");
            }
        }
        assert_eq!(DEFAULT_JOBS, crate::download::Options::default().jobs);
    }

    #[test]
    fn each_name_is_one_flag_or_command() {
        for c in COMMANDS {
            let flags: Vec<&Flag> = FLAGS.iter().filter(|f| f.accepted_by(Some(c))).collect();
            for (i, a) in flags.iter().enumerate() {
                let twin = |b: &&Flag| a.long == b.long || a.short.is_some() && a.short == b.short;
                assert!(!flags[i + 1..].iter().any(twin), "two flags --{} for {}", a.long, c.name);
            }
            assert_eq!(COMMANDS.iter().filter(|b| b.name == c.name).count(), 1, "{}", c.name);
            assert!(c.name.rsplit_once(' ').is_none_or(|(group, _)| COMMANDS.iter().any(|g| g.name == group)));
        }
        let known = |name: &str| COMMANDS.iter().any(|c| c.name == name);
        assert!(FLAGS.iter().all(|f| f.commands.is_empty() || f.commands.split('|').all(known)));
    }
}
