# A stand-in for nixpkgs, for evaluating, checking and building nix-hug's flake where nixpkgs cannot be
# fetched: only what ../../../flake.nix uses, with derivations run by a static busybox (`bin/busybox`).
# Its `buildRustPackage` compiles nothing: it installs the nix-hug binary placed next to this file.
# tests/flake.rs copies both files in before use.
{
  outputs =
    { self }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];

      lib = {
        genAttrs =
          names: f:
          builtins.listToAttrs (
            map (name: {
              inherit name;
              value = f name;
            }) names
          );
        inherit (builtins) mapAttrs;
        optionalString = condition: string: if condition then string else "";
        getExe = drv: "${drv}/bin/${drv.meta.mainProgram}";
        platforms.unix = systems;
      };

      pkgsFor =
        system:
        let
          platform = {
            inherit system;
            isLinux = builtins.match ".*-linux" system != null;
          };

          # `script` runs under busybox sh with busybox's applets on PATH, after the setup hooks of
          # `nativeBuildInputs` (as nixpkgs' stdenv sources them).
          mkDerivation =
            {
              name,
              script,
              nativeBuildInputs ? [ ],
              meta ? { },
              ...
            }@args:
            let
              hooks = builtins.concatStringsSep "\n" (map (input: input.setupHook or "") nativeBuildInputs);
              drv = derivation (
                removeAttrs args [
                  "script"
                  "nativeBuildInputs"
                  "meta"
                ]
                // {
                  inherit name system;
                  builder = "${./bin}/busybox";
                  args = [
                    "sh"
                    "-euc"
                    ''
                      busybox mkdir -p "$TMPDIR/applets"
                      busybox --install -s "$TMPDIR/applets"
                      export PATH="$TMPDIR/applets"
                      cd "$TMPDIR"
                      ${hooks}
                      ${script}
                    ''
                  ];
                }
              );
            in
            drv // { inherit meta; };

          pkgs = {
            inherit lib;
            stdenv = {
              hostPlatform = platform;
              buildPlatform = platform // {
                canExecute = other: other.system == system;
              };
            };
            pkgsStatic = pkgs;

            callPackage =
              f: overrides: f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);

            runCommand =
              name: env: script:
              mkDerivation (env // { inherit name script; });

            mkShell =
              {
                packages ? [ ],
                ...
              }:
              mkDerivation {
                name = "stand-in-shell";
                inherit packages;
                script = "touch $out";
              };

            # nixpkgs' hook: `installShellCompletion [--cmd NAME] --bash|--zsh|--fish FILE …`.
            installShellFiles.setupHook = ''
              installShellCompletion() {
                cmd=""
                while [ $# -gt 0 ]; do
                  case "$1" in
                    --cmd) cmd=$2 ;;
                    --bash) mkdir -p "$out/share/bash-completion/completions"
                      cp "$2" "$out/share/bash-completion/completions/$cmd.bash" ;;
                    --zsh) mkdir -p "$out/share/zsh/site-functions"
                      cp "$2" "$out/share/zsh/site-functions/_$cmd" ;;
                    --fish) mkdir -p "$out/share/fish/vendor_completions.d"
                      cp "$2" "$out/share/fish/vendor_completions.d/$cmd.fish" ;;
                  esac
                  shift 2
                done
              }
            '';

            rustPlatform.buildRustPackage =
              {
                pname,
                version,
                postInstall ? "",
                ...
              }@args:
              mkDerivation (
                removeAttrs args [
                  "src"
                  "cargoLock"
                  "postInstall"
                ]
                // {
                  name = "${pname}-${version}";
                  script = ''
                    mkdir -p "$out/bin"
                    cp ${./nix-hug} "$out/bin/${pname}"
                    chmod 0555 "$out/bin/${pname}"
                    ${postInstall}
                  '';
                }
              );
          }
          # The development tools of nix-hug's devShell, as empty packages.
          // lib.genAttrs [ "cargo" "rustc" "rustfmt" "clippy" "python3" ] (
            name:
            mkDerivation {
              name = "stand-in-${name}";
              script = "touch $out";
            }
          );
        in
        pkgs;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems pkgsFor;
    };
}
