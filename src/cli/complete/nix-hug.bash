# bash completion for nix-hug
_nix_hug() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd= words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${cmd:+$cmd }${COMP_WORDS[i]}" in
            %commands%) cmd="${cmd:+$cmd }${COMP_WORDS[i]}" ;;
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
