/*!
Shell completions for bash, zsh and fish, rendered from `COMMANDS` and `FLAGS` like the help texts, so
a new flag completes as soon as it parses. Hidden commands and flags never appear. Flag values (refs,
globs, repo paths) are not local files, so nothing is proposed for them.
*/

use super::flags::{Cmd, Command, Flag, Shell, all_visible_flags, top_level_commands, visible_commands, visible_flags};

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    match shell {
        Shell::Bash => bash(),
        Shell::Zsh => zsh(),
        Shell::Fish => fish(),
    }
}

const BASH: &str = include_str!("complete/nix-hug.bash");

fn bash() -> String {
    let spellings = |cmd: Option<Cmd>| -> Vec<String> {
        visible_flags(cmd)
            .flat_map(|f| f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}", f.long)]))
            .collect()
    };
    // `cmd` grows a word at a time (`store`, then `store ls`), so a URL never counts as a command.
    let commands: Vec<String> = visible_commands().map(|c| format!("\"{}\"", c.name)).collect();
    let mut value_flags: Vec<String> = Vec::new();
    for f in all_visible_flags().filter(|f| f.value.is_some()) {
        let spelled = format!("--{}", f.long);
        if !value_flags.contains(&spelled) {
            value_flags.push(spelled);
        }
    }
    let mut cases = String::new();
    for c in visible_commands() {
        let mut words: Vec<String> = c.subcommands().map(|s| s.word().to_owned()).collect();
        words.extend(spellings(Some(c.cmd)));
        cases += &format!("        \"{}\") words=\"{}\" ;;\n", c.name, words.join(" "));
    }
    cases += &format!(
        "        *) words=\"{} {}\" ;;\n",
        top_level_commands().map(|c| c.name).collect::<Vec<_>>().join(" "),
        spellings(None).join(" ")
    );
    BASH.replace("%commands%", &commands.join("|"))
        .replace("%value_flags%", &value_flags.join("|"))
        .replace("%cases%", &cases)
}

const ZSH: &str = include_str!("complete/_nix-hug.zsh");

/// `_arguments` specs of the flags `cmd` accepts (the global ones with `None`).
fn zsh_specs(cmd: Option<Cmd>) -> Vec<String> {
    let mut specs = Vec::new();
    for f in visible_flags(cmd) {
        let desc = zsh_quote(&f.help.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]"));
        // Flags with a value may be repeated, as the parser allows (the last --ref wins); `--ref=`
        // completes both `--ref v1` and `--ref=v1`.
        let (repeat, eq, value) = f.value.map_or(("", "", String::new()), |v| ("*", "=", format!(":{v}: ")));
        for name in f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}{eq}", f.long)]) {
            specs.push(format!("'{repeat}{name}[{desc}]{value}'"));
        }
    }
    specs
}

/// The arm of `case` that completes the arguments of `c`, at `indent`.
fn zsh_case(c: &Command, indent: &str) -> String {
    let mut arm = format!("{indent}{})\n", c.word());
    let subcommands: Vec<&Command> = c.subcommands().collect();
    if subcommands.is_empty() {
        let mut specs = zsh_specs(Some(c.cmd));
        if c.url {
            specs.push("':URL: '".to_owned());
        }
        arm += &format!("{indent}  _arguments \\\n{indent}    {}\n", specs.join(&format!(" \\\n{indent}    ")));
    } else {
        arm +=
            &format!("{indent}  if (( CURRENT == 2 )); then\n{indent}    local -a commands\n{indent}    commands=(\n");
        for s in &subcommands {
            arm += &format!("{indent}      '{}:{}'\n", s.word(), zsh_quote(s.summary()));
        }
        arm += &format!("{indent}    )\n{indent}    _describe -t commands 'nix-hug {} command' commands\n", c.name);
        arm += &format!("{indent}  else\n{indent}    shift words\n{indent}    (( CURRENT-- ))\n");
        arm += &format!("{indent}    case $words[1] in\n");
        for s in &subcommands {
            arm += &zsh_case(s, &format!("{indent}      "));
        }
        arm += &format!("{indent}    esac\n{indent}  fi\n");
    }
    arm + &format!("{indent}  ;;\n")
}

fn zsh() -> String {
    let global: String = zsh_specs(None).iter().map(|s| format!("    {s} \\\n")).collect();
    let commands: String =
        top_level_commands().map(|c| format!("        '{}:{}'\n", c.name, zsh_quote(c.summary()))).collect();
    let cases: String = top_level_commands().map(|c| zsh_case(c, "        ")).collect();
    ZSH.replace("%global%", &global).replace("%commands%", &commands).replace("%cases%", &cases)
}

/// Text for the inside of a single-quoted zsh word.
fn zsh_quote(s: &str) -> String {
    s.replace('\'', r"'\''")
}

fn fish() -> String {
    let groups: Vec<&str> = visible_commands().filter(|c| c.subcommands().next().is_some()).map(|c| c.name).collect();
    // When the words of command `c` have been typed.
    let seen = |c: &Command| match c.name.split_once(' ') {
        Some((group, word)) => format!("__fish_seen_subcommand_from {group}; and __fish_seen_subcommand_from {word}"),
        None if groups.contains(&c.name) => format!("__fish_seen_subcommand_from {}", c.name),
        // `ls` is also a word of `store ls`.
        None => {
            format!("__fish_seen_subcommand_from {}; and not __fish_seen_subcommand_from {}", c.name, groups.join(" "))
        }
    };
    let mut out = String::from("# fish completion for nix-hug\ncomplete -c nix-hug -f\n");
    let mut offer = |condition: &str, c: &Command| {
        out += &format!("complete -c nix-hug -n '{condition}' -a {} -d '{}'\n", c.word(), fish_quote(c.summary()));
    };
    let top: Vec<&str> = top_level_commands().map(|c| c.name).collect();
    for c in top_level_commands() {
        offer(&format!("not __fish_seen_subcommand_from {}", top.join(" ")), c);
        let words: Vec<&str> = c.subcommands().map(Command::word).collect();
        for s in c.subcommands() {
            offer(
                &format!(
                    "__fish_seen_subcommand_from {}; and not __fish_seen_subcommand_from {}",
                    c.name,
                    words.join(" ")
                ),
                s,
            );
        }
    }
    let flag = |condition: String, f: &Flag| {
        let short = f.short.map_or(String::new(), |c| format!(" -s {c}"));
        let value = if f.value.is_some() { " -x" } else { "" };
        format!("complete -c nix-hug{condition}{short} -l {}{value} -d '{}'\n", f.long, fish_quote(f.help))
    };
    for f in visible_flags(None) {
        out += &flag(String::new(), f);
    }
    for c in visible_commands() {
        for f in visible_flags(Some(c.cmd)).filter(|f| !f.commands.is_empty()) {
            out += &flag(format!(" -n '{}'", seen(c)), f);
        }
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
    use crate::cli::flags::{COMMANDS, FLAGS};
    use std::io::Write;
    use std::process::{Command, Stdio};

    const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    #[test]
    fn every_visible_flag_and_command_and_nothing_hidden() {
        for shell in SHELLS {
            let script = script(shell);
            for c in COMMANDS {
                assert_eq!(script.contains(c.word()), !c.hidden, "{shell:?}: {}", c.name);
                if shell != Shell::Bash && !c.hidden {
                    assert!(script.contains(&fish_quote(c.summary())), "{shell:?}: {}", c.name);
                }
            }
            for f in FLAGS {
                let spelled = match shell {
                    Shell::Fish => format!("-l {} ", f.long),
                    _ => format!("--{}", f.long),
                };
                assert_eq!(script.contains(&spelled), !f.hidden, "{shell:?}: --{}", f.long);
                if let Some(c) = f.short {
                    let spelled = if shell == Shell::Fish { format!("-s {c} ") } else { format!("-{c}") };
                    assert!(script.contains(&spelled), "{shell:?}: -{c}");
                }
            }
            assert!(!script.contains('%'), "{shell:?}: unfilled slot");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(zsh_quote("the URL's"), r"the URL'\''s");
        assert_eq!(fish_quote(r"the URL's \d"), r"the URL\'s \\d");
        assert!(zsh().contains(r"'*--ref=[Branch, tag, commit or refs/pr/N (default: the URL'\''s ref"));
    }

    /// Runs `program args…` with `input` on stdin; `None` when the shell is not installed, which is a
    /// failure in CI (`CI` set), where `scripts/setup` installs every shell.
    fn run(program: &str, args: &[&str], input: &str) -> Option<(bool, String)> {
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = spawned else {
            assert!(std::env::var_os("CI").is_none(), "{program} is not installed: CI must run the completions");
            return None;
        };
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        Some((out.status.success(), text))
    }

    #[test]
    fn scripts_parse_where_the_shell_is_installed() {
        for (shell, program, args) in
            [(Shell::Bash, "bash", &["-n"][..]), (Shell::Zsh, "zsh", &["-n"]), (Shell::Fish, "fish", &["--no-execute"])]
        {
            match run(program, args, &script(shell)) {
                Some((ok, text)) => assert!(ok, "{program} refuses the script:\n{text}"),
                None => eprintln!("{program} is not installed: syntax of the {shell:?} script not checked"),
            }
        }
    }

    #[test]
    fn bash_completes_commands_and_flags() {
        let complete = |line: &[&str]| -> Option<String> {
            let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
            let program = format!(
                "{}\nCOMP_WORDS=({}); COMP_CWORD={}; _nix_hug; echo \"${{COMPREPLY[*]}}\"\n",
                bash(),
                words.join(" "),
                line.len() - 1
            );
            let (ok, text) = run("bash", &[], &program)?;
            assert!(ok, "{text}");
            Some(text.trim().to_owned())
        };
        let Some(commands) = complete(&["nix-hug", ""]) else {
            return eprintln!("bash is not installed: completion not run");
        };
        assert!(commands.starts_with("fetch ls refs export import store -q --quiet --debug"), "{commands}");
        assert_eq!(complete(&["nix-hug", "l"]).unwrap(), "ls");
        assert_eq!(complete(&["nix-hug", "store", ""]).unwrap(), "ls path -q --quiet --debug -h --help -V --version");
        assert_eq!(complete(&["nix-hug", "store", "ls", "--j"]).unwrap(), "--json");
        assert_eq!(complete(&["nix-hug", "store", "ls", "--r"]).unwrap(), "", "store ls is not ls");
        assert_eq!(complete(&["nix-hug", "ls", "store", "--r"]).unwrap(), "--ref");
        assert_eq!(
            complete(&["nix-hug", "import", "-"]).unwrap().split(' ').take(5).collect::<Vec<_>>(),
            ["--ref", "--all", "-y", "--yes", "--no-check-sigs"]
        );
        assert_eq!(complete(&["nix-hug", "--debug", "fetch", "x/y", "--j"]).unwrap(), "--jobs --json");
        assert_eq!(complete(&["nix-hug", "ls", "--j"]).unwrap(), "--json");
        assert_eq!(complete(&["nix-hug", "ls", "--include", ""]).unwrap(), "", "no local files for a GLOB");
    }

    #[test]
    fn zsh_completes_commands_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("_nix-hug"), zsh()).unwrap();
        let complete = |line: &str| -> Option<Vec<String>> {
            let driver = include_str!("complete/zpty.zsh");
            let (ok, text) = run("zsh", &["-f", "-c", driver, "zsh", line, &dir.path().display().to_string()], "")?;
            assert!(ok, "{text}");
            let mut words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
            words.sort();
            Some(words)
        };
        let Some(commands) = complete("nix-hug ") else {
            return eprintln!("zsh is not installed: completion not run");
        };
        assert_eq!(commands, ["export", "fetch", "import", "ls", "refs", "store"]);
        assert_eq!(complete("nix-hug store ").unwrap(), ["ls", "path"]);
        assert_eq!(complete("nix-hug --debug fetch x/y --j").unwrap(), ["--jobs", "--json"]);
        assert_eq!(complete("nix-hug ls --inc").unwrap(), ["--include"]);
        assert_eq!(complete("nix-hug store ls --").unwrap(), ["--debug", "--help", "--json", "--quiet", "--version"]);
        assert!(complete("nix-hug import -").unwrap().contains(&"--no-check-sigs".to_owned()));
    }

    #[test]
    fn fish_completes_commands_and_flags() {
        let complete = |line: &str| -> Option<Vec<String>> {
            let program = format!("{}\ncomplete -C '{line}'\n", fish());
            let (ok, text) = run("fish", &["--no-config"], &program)?;
            assert!(ok, "{text}");
            Some(text.lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect())
        };
        let Some(commands) = complete("nix-hug ") else {
            return eprintln!("fish is not installed: completion not run");
        };
        assert_eq!(commands, ["export", "fetch", "import", "ls", "refs", "store"]);
        assert_eq!(complete("nix-hug --debug fetch x/y --j").unwrap(), ["--jobs", "--json"]);
        assert_eq!(complete("nix-hug ls --j").unwrap(), ["--json"]);
        assert_eq!(complete("nix-hug store ").unwrap(), ["ls", "path"]);
        assert_eq!(complete("nix-hug store ls --").unwrap(), ["--debug", "--help", "--json", "--quiet", "--version"]);
        assert_eq!(complete("nix-hug import --a").unwrap(), ["--all"]);
    }
}
