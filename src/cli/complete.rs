/*!
Shell completions for bash, zsh and fish, rendered from the table like the help texts, so a new flag
completes as soon as it parses. Hidden commands and flags never appear. Flag values (refs, globs, repo
paths) are not local files, so nothing is proposed for them.
*/

use super::flags::{COMMANDS, Command, FLAGS, Flag, commands_after, visible_commands, visible_flags};
use crate::error::{Result, usage};

/// The completion script `kind` (the value of `--generate`) names.
pub fn script(kind: &str) -> Result<String> {
    match kind {
        "complete-bash" => Ok(bash()),
        "complete-zsh" => Ok(zsh()),
        "complete-fish" => Ok(fish()),
        _ => Err(usage(format!("unknown KIND {kind:?}: expected complete-bash, complete-zsh or complete-fish"))),
    }
}

/// `-o` and `--out-link`, each with `long` after it.
fn spellings(f: &Flag, long: &str) -> impl Iterator<Item = String> {
    f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}{long}", f.long)])
}

/// The group `c` is a command of: `store` for `store ls`.
fn group(c: &Command) -> Option<&'static Command> {
    let (group, _) = c.name.rsplit_once(' ')?;
    COMMANDS.iter().find(|g| g.name == group)
}

fn words<'a>(commands: impl Iterator<Item = &'a Command>) -> String {
    commands.map(Command::word).collect::<Vec<_>>().join(" ")
}

fn bash() -> String {
    // `cmd` grows a word at a time (`store`, then `store ls`), so a URL never counts as a command.
    let commands: Vec<String> = visible_commands().map(|c| format!("\"{}\"", c.name)).collect();
    let mut value_flags: Vec<String> =
        FLAGS.iter().filter(|f| !f.help.is_empty() && f.value.is_some()).map(|f| format!("--{}", f.long)).collect();
    value_flags.dedup();
    let arm = |pattern: String, c: Option<&Command>| {
        let flags: Vec<String> = visible_flags(c).flat_map(|f| spellings(f, "")).collect();
        let words = [words(commands_after(c)), flags.join(" ")].join(" ");
        format!("        {pattern}) words=\"{}\" ;;\n", words.trim())
    };
    let cases: String =
        visible_commands().map(|c| arm(format!("\"{}\"", c.name), Some(c))).chain([arm("*".into(), None)]).collect();
    include_str!("complete/nix-hug.bash")
        .replace("%commands%", &commands.join("|"))
        .replace("%value_flags%", &value_flags.join("|"))
        .replace("%cases%", &cases)
}

/// `_arguments` specs of the flags `c` accepts (the global ones with `None`).
fn zsh_specs(c: Option<&Command>) -> Vec<String> {
    let mut specs = Vec::new();
    for f in visible_flags(c) {
        let desc = zsh_quote(&f.help.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]"));
        // Flags with a value may be repeated, as the parser allows; `--ref=` completes both `--ref v1`
        // and `--ref=v1`.
        let (repeat, eq, value) = f.value.map_or(("", "", String::new()), |v| ("*", "=", format!(":{v}: ")));
        specs.extend(spellings(f, eq).map(|name| format!("'{repeat}{name}[{desc}]{value}'")));
    }
    specs
}

/// `'fetch:Download…'` lines for `_describe`, at `indent`.
fn zsh_describe(commands: impl Iterator<Item = &'static Command>, indent: &str) -> String {
    commands.map(|c| format!("{indent}'{}:{}'\n", c.word(), zsh_quote(c.summary()))).collect()
}

/// The arm of `case` that completes the arguments of `c`, at `indent`.
fn zsh_case(c: &Command, i: &str) -> String {
    let mut arm = format!("{i}{})\n", c.word());
    if !c.is_group() {
        let mut specs = zsh_specs(Some(c));
        specs.extend(c.url.then(|| "':URL: '".to_owned()));
        arm += &format!("{i}  _arguments \\\n{i}    {}\n", specs.join(&format!(" \\\n{i}    ")));
    } else {
        arm += &format!("{i}  if (( CURRENT == 2 )); then\n{i}    local -a commands\n{i}    commands=(\n");
        arm += &zsh_describe(commands_after(Some(c)), &format!("{i}      "));
        arm += &format!("{i}    )\n{i}    _describe -t commands 'nix-hug {} command' commands\n", c.name);
        arm += &format!("{i}  else\n{i}    shift words\n{i}    (( CURRENT-- ))\n{i}    case $words[1] in\n");
        arm += &commands_after(Some(c)).map(|s| zsh_case(s, &format!("{i}      "))).collect::<String>();
        arm += &format!("{i}    esac\n{i}  fi\n");
    }
    arm + &format!("{i}  ;;\n")
}

fn zsh() -> String {
    let global: String = zsh_specs(None).iter().map(|s| format!("    {s} \\\n")).collect();
    let cases: String = commands_after(None).map(|c| zsh_case(c, "        ")).collect();
    include_str!("complete/_nix-hug.zsh")
        .replace("%global%", &global)
        .replace("%commands%", &zsh_describe(commands_after(None), "        "))
        .replace("%cases%", &cases)
}

/// Text for the inside of a single-quoted zsh word.
fn zsh_quote(s: &str) -> String {
    s.replace('\'', r"'\''")
}

fn fish() -> String {
    let mut out = String::from("# fish completion for nix-hug\ncomplete -c nix-hug -f\n");
    for c in visible_commands() {
        let seen = group(c).map_or(String::new(), |g| format!("__fish_seen_subcommand_from {}; and ", g.name));
        let condition = format!("{seen}not __fish_seen_subcommand_from {}", words(commands_after(group(c))));
        out += &format!("complete -c nix-hug -n '{condition}' -a {} -d '{}'\n", c.word(), fish_quote(c.summary()));
    }
    let flag = |condition: String, f: &Flag| {
        let short = f.short.map_or(String::new(), |c| format!(" -s {c}"));
        let value = if f.value.is_some() { " -x" } else { "" };
        format!("complete -c nix-hug{condition}{short} -l {}{value} -d '{}'\n", f.long, fish_quote(f.help))
    };
    out.extend(visible_flags(None).map(|f| flag(String::new(), f)));
    for c in visible_commands() {
        // When the words of `c` have been typed; `ls` is also a word of `store ls`.
        let groups = words(visible_commands().filter(|g| g.is_group() && g.name != c.name));
        let seen = match group(c) {
            Some(g) => format!("__fish_seen_subcommand_from {}; and __fish_seen_subcommand_from {}", g.name, c.word()),
            None => format!("__fish_seen_subcommand_from {}; and not __fish_seen_subcommand_from {groups}", c.name),
        };
        out.extend(visible_flags(Some(c)).filter(|f| !f.commands.is_empty()).map(|f| flag(format!(" -n '{seen}'"), f)));
    }
    out
}

/// Text for the inside of a single-quoted fish word.
fn fish_quote(s: &str) -> String {
    s.replace('\\', r"\\").replace('\'', r"\'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `program args…` prints; `None` when the shell is not installed, which fails in CI (`CI`
    /// set), where `scripts/setup` installs every shell.
    fn run(program: &str, args: &[&str]) -> Option<String> {
        let Ok(out) = std::process::Command::new(program).args(args).output() else {
            assert!(std::env::var_os("CI").is_none(), "{program} is not installed: CI must run the completions");
            return None;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "{program}: {stderr}");
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// What `shell`, running our script, offers for `line` with the cursor at its end, sorted.
    fn offered(shell: &str, line: &str, dir: &std::path::Path) -> Option<String> {
        let script = script(&format!("complete-{shell}")).unwrap();
        let printed = match shell {
            "bash" => {
                let words: Vec<String> = line.split(' ').map(|w| format!("'{w}'")).collect();
                let (words, cword) = (words.join(" "), words.len() - 1);
                let complete =
                    format!("COMP_WORDS=({words}); COMP_CWORD={cword}; _nix_hug; printf '%s\\n' \"${{COMPREPLY[@]}}\"");
                run("bash", &["--norc", "-c", &format!("{script}\n{complete}")])?
            }
            "fish" => run("fish", &["--no-config", "-c", &format!("{script}\ncomplete -C '{line}'")])?,
            _ => {
                std::fs::write(dir.join("_nix-hug"), script).unwrap();
                run("zsh", &["-f", "-c", include_str!("complete/zpty.zsh"), "zsh", line, &dir.display().to_string()])?
            }
        };
        let mut words: Vec<&str> =
            printed.lines().filter_map(|l| l.split('\t').next()).flat_map(str::split_whitespace).collect();
        words.sort();
        Some(words.join(" "))
    }

    #[test]
    fn the_shells_complete_commands_and_flags() {
        const ALL: &[&str] = &["bash", "zsh", "fish"];
        let cases: &[(&[&str], &str, &str)] = &[
            (&["zsh", "fish"], "nix-hug ", "add export fetch import lock ls refs remove store update"),
            (
                &["bash"],
                "nix-hug ",
                "--debug --help --quiet --version -V -h -q add export fetch import lock ls refs remove store update",
            ),
            (ALL, "nix-hug l", "lock ls"),
            (&["zsh", "fish"], "nix-hug store ", "ls path prune rebuild-manifest rm verify"),
            (
                &["bash"],
                "nix-hug store ",
                "--debug --help --quiet --version -V -h -q ls path prune rebuild-manifest rm verify",
            ),
            (ALL, "nix-hug --debug fetch x/y --j", "--jobs --json"),
            (ALL, "nix-hug ls --j", "--json"),
            (ALL, "nix-hug ls --inc", "--include"),
            (ALL, "nix-hug ls --include ", ""),
            (ALL, "nix-hug store ls --", "--debug --help --json --quiet --version"),
            (ALL, "nix-hug store ls --r", ""),
            (ALL, "nix-hug import --", "--all --debug --from --help --no-check-sigs --quiet --ref --version --yes"),
            (ALL, "nix-hug __", ""),
            (ALL, "nix-hug --gen", ""),
            (&["bash", "zsh"], "nix-hug ls store --r", "--ref"),
        ];
        let dir = tempfile::tempdir().unwrap();
        for shell in ALL {
            for (_, line, want) in cases.iter().filter(|(shells, ..)| shells.contains(shell)) {
                let Some(got) = offered(shell, line, dir.path()) else {
                    eprintln!("{shell} is not installed: its completions are not run");
                    break;
                };
                assert_eq!(got, *want, "{shell}: {line:?}");
            }
        }
    }
}
