# What zsh offers when Tab is pressed after the line $1, with the _nix-hug in the folder $2 on $fpath.
# zsh completes only in an interactive shell: one runs in a pseudo-terminal (zpty), with `compadd`
# wrapped to print what it is given. A key bound after Tab prints a mark once the completion is done,
# so the output is read up to that mark and no further.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= ; fpath=(${(q)2} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi; typeset -a h; builtin compadd -A h "$@"; (( $#h )) && print -r -- "${(U):-hits:}" $h; }'
zpty -w z 'mark() { print -r -- "${(U):-done:}"; }; zle -N mark; bindkey "^Xd" mark'
zpty -n -w z "$1"$'\t\C-Xd'
zpty -r -m z all '*DONE:*'
zpty -d z
for l in ${(f)all//$'\r'/$'\n'}; do [[ $l != *HITS:* ]] || print -r -- ${l#*HITS:}; done
