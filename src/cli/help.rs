/*!
The help texts: the main help and one per command, each with its tables of commands and options
rendered from the table, so they cannot disagree with what the parser accepts. The prose is in `help/`.
*/

use super::flags::{Command, Flag, commands_after, visible_flags};

/// The help of a command, or the main help for `None` and the hidden commands.
pub fn help(command: Option<&Command>) -> String {
    let command = command.filter(|c| !c.hidden());
    let commands = commands_after(command).map(|c| (c.word().to_owned(), c.summary()));
    let options = visible_flags(command).map(|f| (spelling(f), f.help));
    (command.map_or(include_str!("help/main.txt"), |c| c.help()))
        .replace("%target%", include_str!("help/target.txt").trim_end())
        .replace("%persist%", include_str!("help/persist.txt").trim_end())
        .replace("%download%", include_str!("help/download.txt").trim_end())
        .replace("%commands%", &table(commands))
        .replace("%options%", &table(options))
}

/// `-h, --help` or `    --include GLOB`.
fn spelling(f: &Flag) -> String {
    let short = f.short.map_or("    ".to_owned(), |c| format!("-{c}, "));
    format!("{short}--{}{}", f.long, f.value.map_or(String::new(), |v| format!(" {v}")))
}

fn table<'a>(rows: impl Iterator<Item = (String, &'a str)>) -> String {
    let rows: Vec<_> = rows.collect();
    let width = rows.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows.iter().map(|(left, right)| format!("  {left:width$}  {right}")).collect();
    lines.join("\n")
}
