/*!
Shell completions for bash, zsh and fish, rendered from `COMMANDS` and `FLAGS` like the help texts, so
a new flag completes as soon as it parses. Hidden commands and flags never appear. Flag values (refs,
globs, repo paths) are not local files, so nothing is proposed for them.
*/

use super::flags::{Cmd, all_visible_flags, visible_commands, visible_flags};
use crate::error::{Result, usage};

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

    pub fn script(self) -> String {
        match self {
            Shell::Bash => bash(),
            Shell::Zsh => zsh(),
            Shell::Fish => fish(),
        }
    }
}

const BASH: &str = r#"# bash completion for nix-hug
_nix_hug() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd= words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            %commands%) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $prev in
        %value_flags%) return 0 ;;
    esac
    case $cmd in
%cases%    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _nix_hug nix-hug
"#;

fn bash() -> String {
    let spellings = |cmd: Option<Cmd>| -> Vec<String> {
        visible_flags(cmd)
            .flat_map(|f| f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}", f.long)]))
            .collect()
    };
    let names: Vec<&str> = visible_commands().map(|c| c.name).collect();
    let value_flags: Vec<String> =
        all_visible_flags().filter(|f| f.value.is_some()).map(|f| format!("--{}", f.long)).collect();
    let mut cases = String::new();
    for c in visible_commands() {
        cases += &format!("        {}) words=\"{}\" ;;\n", c.name, spellings(Some(c.cmd)).join(" "));
    }
    cases += &format!("        *) words=\"{} {}\" ;;\n", names.join(" "), spellings(None).join(" "));
    BASH.replace("%commands%", &names.join("|"))
        .replace("%value_flags%", &value_flags.join("|"))
        .replace("%cases%", &cases)
}

const ZSH: &str = r#"#compdef nix-hug

_nix_hug() {
  local curcontext=$curcontext state line
  _arguments -C \
%global%    '1: :->command' \
    '*:: :->argument'
  case $state in
    command)
      local -a commands
      commands=(
%commands%      )
      _describe -t commands 'nix-hug command' commands
      ;;
    argument)
      case $line[1] in
%cases%      esac
      ;;
  esac
}

_nix_hug "$@"
"#;

fn zsh() -> String {
    let specs = |cmd: Option<Cmd>, indent: &str| -> String {
        let mut out = String::new();
        for f in visible_flags(cmd) {
            let desc = zsh_quote(&f.help.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]"));
            // Flags with a value may be repeated, as the parser allows (the last --ref wins); `--ref=`
            // completes both `--ref v1` and `--ref=v1`.
            let (repeat, eq, value) = f.value.map_or(("", "", String::new()), |v| ("*", "=", format!(":{v}: ")));
            for name in f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}{eq}", f.long)]) {
                out += &format!("{indent}'{repeat}{name}[{desc}]{value}' \\\n");
            }
        }
        out
    };
    let commands: String =
        visible_commands().map(|c| format!("        '{}:{}'\n", c.name, zsh_quote(c.summary))).collect();
    let mut cases = String::new();
    for c in visible_commands() {
        cases += &format!("        {})\n          _arguments \\\n", c.name);
        cases += &specs(Some(c.cmd), "            ");
        cases += "            ':URL: '\n          ;;\n";
    }
    ZSH.replace("%global%", &specs(None, "    ")).replace("%commands%", &commands).replace("%cases%", &cases)
}

/// Text for the inside of a single-quoted zsh word.
fn zsh_quote(s: &str) -> String {
    s.replace('\'', r"'\''")
}

fn fish() -> String {
    let names: Vec<&str> = visible_commands().map(|c| c.name).collect();
    let mut out = String::from("# fish completion for nix-hug\ncomplete -c nix-hug -f\n");
    for c in visible_commands() {
        out += &format!(
            "complete -c nix-hug -n 'not __fish_seen_subcommand_from {}' -a {} -d '{}'\n",
            names.join(" "),
            c.name,
            fish_quote(c.summary)
        );
    }
    for f in all_visible_flags() {
        let only: Vec<&str> = visible_commands().filter(|c| f.commands.contains(&c.cmd)).map(|c| c.name).collect();
        let condition = if only.is_empty() {
            String::new()
        } else {
            format!(" -n '__fish_seen_subcommand_from {}'", only.join(" "))
        };
        let short = f.short.map_or(String::new(), |c| format!(" -s {c}"));
        let value = if f.value.is_some() { " -x" } else { "" };
        out += &format!("complete -c nix-hug{condition}{short} -l {}{value} -d '{}'\n", f.long, fish_quote(f.help));
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
            let script = shell.script();
            for c in COMMANDS {
                assert_eq!(script.contains(c.name), !c.hidden, "{shell:?}: {}", c.name);
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
        assert!(zsh().contains(r"'*--ref=[Branch, tag, commit or refs/pr/N (default: the URL'\''s /tree/REF"));
    }

    /// Runs `program args…` with `input` on stdin; `None` when the shell is not installed.
    fn run(program: &str, args: &[&str], input: &str) -> Option<(bool, String)> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
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
            match run(program, args, &shell.script()) {
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
        assert!(commands.starts_with("fetch ls --debug"), "{commands}");
        assert_eq!(complete(&["nix-hug", "l"]).unwrap(), "ls");
        assert_eq!(complete(&["nix-hug", "--debug", "fetch", "x/y", "--j"]).unwrap(), "--jobs --json");
        assert_eq!(complete(&["nix-hug", "ls", "--j"]).unwrap(), "--json");
        assert_eq!(complete(&["nix-hug", "ls", "--include", ""]).unwrap(), "", "no local files for a GLOB");
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
        assert_eq!(commands, ["fetch", "ls"]);
        assert_eq!(complete("nix-hug --debug fetch x/y --j").unwrap(), ["--jobs", "--json"]);
        assert_eq!(complete("nix-hug ls --j").unwrap(), ["--json"]);
    }
}
