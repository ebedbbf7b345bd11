/*!
The table the whole command line is made of: `COMMANDS` and `FLAGS`, plain data. The parser looks every
name up here, and the help texts and shell completions are rendered from here, so a flag cannot be
accepted without being documented (or documented without being accepted).
*/

type Text = &'static str;

pub struct Command {
    /// The words that name it: `fetch`, or `store ls` for a command of the `store` group.
    pub name: Text,
    /// Whether it takes a URL.
    pub url: bool,
    /// Its summary on one line (for the lists of commands and the completions), a blank line, then the
    /// text of `nix-hug NAME --help`, with slots (`%options%`…) for `help` to fill in. Empty for the
    /// builder commands run by `lib/`: accepted, never shown.
    text: Text,
}

impl Command {
    pub fn summary(&self) -> Text {
        self.text.lines().next().unwrap_or_default()
    }

    pub fn help(&self) -> Text {
        self.text.split_once("\n\n").map_or("", |(_, help)| help)
    }

    pub fn hidden(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether it is a group of commands (`store`), to be followed by one of them.
    pub fn is_group(&self) -> bool {
        commands_after(Some(self)).next().is_some()
    }

    /// The last word of its name: `ls` for `store ls`.
    pub fn word(&self) -> Text {
        self.name.rsplit(' ').next().unwrap_or(self.name)
    }
}

pub const COMMANDS: &[Command] = &[
    Command { name: "fetch", url: true, text: include_str!("help/fetch.txt") },
    Command { name: "ls", url: true, text: include_str!("help/ls.txt") },
    Command { name: "refs", url: true, text: include_str!("help/refs.txt") },
    Command { name: "export", url: true, text: include_str!("help/export.txt") },
    Command { name: "import", url: true, text: include_str!("help/import.txt") },
    Command { name: "add", url: true, text: include_str!("help/add.txt") },
    Command { name: "update", url: false, text: include_str!("help/update.txt") },
    Command { name: "remove", url: false, text: include_str!("help/remove.txt") },
    Command { name: "lock", url: false, text: include_str!("help/lock.txt") },
    Command { name: "store", url: false, text: include_str!("help/store.txt") },
    Command { name: "store ls", url: false, text: include_str!("help/store-ls.txt") },
    Command { name: "store path", url: false, text: include_str!("help/store-path.txt") },
    Command { name: "store rm", url: true, text: include_str!("help/store-rm.txt") },
    Command { name: "store prune", url: false, text: include_str!("help/store-prune.txt") },
    Command { name: "store verify", url: false, text: include_str!("help/store-verify.txt") },
    Command { name: "store rebuild-manifest", url: false, text: include_str!("help/store-rebuild-manifest.txt") },
    Command { name: "__fetch", url: false, text: "" },
    Command { name: "__cache", url: false, text: "" },
    Command { name: "__lock", url: false, text: "" },
];

pub struct Flag {
    pub long: Text,
    pub short: Option<char>,
    /// The name of its value in help (`GLOB`); `None` for a switch.
    pub value: Option<Text>,
    /// The names of the commands that accept it, as `fetch|ls`; empty for a global flag.
    pub commands: Text,
    /// One line for the help table and the completions; empty for a hidden flag.
    pub help: Text,
}

impl Flag {
    /// Whether `command` accepts it (the global flags only, with `None`).
    pub fn accepted_by(&self, command: Option<&Command>) -> bool {
        self.commands.is_empty() || command.is_some_and(|c| self.commands.split('|').any(|n| n == c.name))
    }
}

const fn flag(long: Text, short: Option<char>, value: Option<Text>, commands: Text, help: Text) -> Flag {
    Flag { long, short, value, commands, help }
}

/// The commands that choose a repository at a ref and files in it.
const TARGET: Text = "fetch|ls|export|add";
/// The commands that keep the lock file.
const PINS: Text = "add|update|remove|lock";

/// In the order of the help texts: the commands' own flags, then the global ones. A name may appear
/// twice for different commands (`--ref` means something else to `import`).
pub const FLAGS: &[Flag] = &[
    flag("ref", None, Some("REF"), TARGET, "Branch, tag, commit or refs/pr/N (default: the URL's ref, else main)"),
    flag("ref", None, Some("REF"), "import", "Only the commits starting with REF (default: the URL's ref, else all)"),
    flag("all", None, None, "import", "Import every exported output instead of those of one URL"),
    flag(
        "from",
        None,
        Some("URL"),
        "import",
        "Import from the persist directory served at URL, not the configured one",
    ),
    flag("yes", Some('y'), None, "import", "Accepted for compatibility: there is nothing to confirm"),
    flag(
        "no-check-sigs",
        None,
        None,
        "import",
        "Accepted for compatibility: Nix checks these outputs by hash, not signature",
    ),
    flag("include", None, Some("GLOB"), TARGET, "Take only the large (LFS) files matching GLOB; repeatable"),
    flag("exclude", None, Some("GLOB"), TARGET, "Leave out the large (LFS) files matching GLOB; repeatable"),
    flag("file", None, Some("PATH"), TARGET, "Take exactly this file and no other; repeatable"),
    flag("name", None, Some("NAME"), "add", "The entry's name in the lock (default: the repository's name)"),
    flag("check", None, None, "update", "Write nothing; exit 1 when any entry is stale"),
    flag(
        "no-seed",
        None,
        None,
        "add|update|lock",
        "Only write the lock: put no file into the Nix store (nothing large is downloaded)",
    ),
    flag("lock", None, Some("FILE"), PINS, "The lock file (default: ./nix-hug.lock)"),
    flag(
        "jobs",
        None,
        Some("N"),
        "fetch|export|add|update|lock",
        "Download with N parallel requests, 1 to 64 (default: 8)",
    ),
    flag("hash", None, None, "fetch|export", "Print only the fileTreeHash (sha256-...) instead of the expression"),
    flag(
        "out-link",
        Some('o'),
        Some("PATH"),
        "fetch|export",
        "Make PATH a link that keeps the output from garbage collection (nix-build -o)",
    ),
    flag("dry-run", None, None, "fetch", "Say what would be downloaded and how much, and write nothing"),
    flag(
        "json",
        None,
        None,
        "fetch|ls|refs|export|store ls|add|update|remove|lock",
        "Print JSON instead of the text for humans",
    ),
    flag("quiet", Some('q'), None, "", "Print only results, warnings and errors: no progress, no other messages"),
    flag("debug", None, None, "", "Show HTTP requests, commands run, hash steps and error details on stderr"),
    flag("help", Some('h'), None, "", "Print help"),
    flag("version", Some('V'), None, "", "Print the version"),
    // Prints a completion script: complete-bash, complete-zsh or complete-fish.
    flag("generate", None, Some("KIND"), "", ""),
];

/// The visible commands, in table order.
pub fn visible_commands() -> impl Iterator<Item = &'static Command> {
    COMMANDS.iter().filter(|c| !c.hidden())
}

/// The visible commands that follow `group` (`store ls` after `store`), or that stand first with `None`.
pub fn commands_after(group: Option<&Command>) -> impl Iterator<Item = &'static Command> {
    let prefix = group.map_or(String::new(), |g| format!("{} ", g.name));
    visible_commands().filter(move |c| c.name.strip_prefix(&prefix).is_some_and(|word| !word.contains(' ')))
}

/// The visible flags `command` accepts (the global ones with `None`), its own first.
pub fn visible_flags(command: Option<&Command>) -> impl Iterator<Item = &'static Flag> {
    FLAGS.iter().filter(move |f| !f.help.is_empty() && f.accepted_by(command))
}
