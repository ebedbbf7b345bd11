/*!
The help texts: the main help and one per command, each with its table of options rendered from
`FLAGS`, so the tables cannot disagree with what the parser accepts.
*/

use super::flags::{Cmd, Flag, top_level_commands, visible_commands, visible_flags};

pub fn version() -> String {
    format!("nix-hug {}\n", env!("CARGO_PKG_VERSION"))
}

/// The help of a command, or the main help when `None`.
pub fn help(cmd: Option<Cmd>) -> String {
    match visible_commands().find(|c| Some(c.cmd) == cmd) {
        Some(c) => {
            let commands: Vec<(String, &str)> = c.subcommands().map(|s| (s.word().to_owned(), s.summary())).collect();
            c.help()
                .replace("%target%", include_str!("help/target.txt").trim_end())
                .replace("%persist%", include_str!("help/persist.txt").trim_end())
                .replace("%download%", include_str!("help/download.txt").trim_end())
                .replace("%commands%", &table(&commands))
                .replace("%options%", &options_table(Some(c.cmd)))
        }
        None => {
            let commands: Vec<(String, &str)> =
                top_level_commands().map(|c| (c.name.to_owned(), c.summary())).collect();
            include_str!("help/main.txt")
                .replace("%commands%", &table(&commands))
                .replace("%options%", &options_table(None))
        }
    }
}

fn options_table(cmd: Option<Cmd>) -> String {
    let rows: Vec<(String, &str)> = visible_flags(cmd).map(|f| (spelling(f), f.help)).collect();
    table(&rows)
}

/// `-h, --help` or `    --include GLOB`.
fn spelling(f: &Flag) -> String {
    let short = f.short.map_or("    ".to_owned(), |c| format!("-{c}, "));
    let value = f.value.map_or(String::new(), |v| format!(" {v}"));
    format!("{short}--{}{value}", f.long)
}

fn table(rows: &[(String, &str)]) -> String {
    let width = rows.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows.iter().map(|(left, right)| format!("  {left:width$}  {right}")).collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags::{COMMANDS, FLAGS};

    #[test]
    fn every_visible_flag_and_command_is_documented_where_accepted() {
        let main = help(None);
        for c in COMMANDS {
            let (listed_in, word) = match c.name.split_once(' ') {
                Some((group, word)) => (help(COMMANDS.iter().find(|g| g.name == group).map(|g| g.cmd)), word),
                None => (main.clone(), c.name),
            };
            assert_eq!(listed_in.contains(&format!("\n  {word} ")), !c.hidden, "{}", c.name);
        }
        for flag in FLAGS {
            let shown = format!("  {}  ", spelling(flag));
            assert_eq!(main.contains(&shown), flag.commands.is_empty() && !flag.hidden, "--{} in main help", flag.long);
            for c in COMMANDS.iter().filter(|c| !c.hidden) {
                let text = help(Some(c.cmd));
                let accepted = flag.commands.is_empty() || flag.commands.contains(&c.cmd);
                // `--ref` has a row of its own for `import`.
                let twin = FLAGS.iter().any(|f| f.long == flag.long && f.commands.contains(&c.cmd));
                assert_eq!(text.contains(&shown), (accepted || twin) && !flag.hidden, "--{} in {}", flag.long, c.name);
                assert_eq!(text.contains(flag.help), accepted && !flag.hidden, "--{} in {} help", flag.long, c.name);
            }
        }
        for text in COMMANDS.iter().map(|c| help(Some(c.cmd))).chain([main]) {
            assert!(!text.contains('%'), "unfilled slot in\n{text}");
            assert!(!text.contains("__"), "a hidden command in\n{text}");
            assert!(text.lines().all(|l| l.len() <= 100), "a long line in\n{text}");
        }
    }

    #[test]
    fn commands_show_their_own_examples() {
        assert!(help(Some(Cmd::Ls)).contains("\nUsage: nix-hug ls URL [OPTIONS]\n"));
        assert!(help(Some(Cmd::Ls)).contains("  nix-hug ls google-bert/bert-base-uncased --file config.json\n"));
        assert!(help(Some(Cmd::Fetch)).contains("  TMPDIR "), "fetch assembles its output in TMPDIR");
        assert!(!help(Some(Cmd::Ls)).contains("TMPDIR"), "ls writes nothing");
        assert_eq!(help(Some(Cmd::BuilderFetch)), help(None), "hidden commands have no help of their own");
        assert!(help(Some(Cmd::Export)).contains("NIX_HUG_PERSIST_DIR"));
        assert!(
            help(Some(Cmd::Import)).contains("\nUsage: nix-hug import URL [OPTIONS]\n       nix-hug import --all\n")
        );
        assert!(help(Some(Cmd::Store)).contains("\n  ls    List the exported outputs"));
        assert!(!help(Some(Cmd::StoreLs)).contains("--ref"));
    }
}
