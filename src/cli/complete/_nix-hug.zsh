#compdef nix-hug

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
