{
  description = "Declarative Hugging Face model and dataset fetching for Nix";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      cargoToml = builtins.fromTOML (builtins.readFile ./Cargo.toml);

      package =
        {
          lib,
          stdenv,
          rustPlatform,
          installShellFiles,
        }:
        rustPlatform.buildRustPackage {
          pname = "nix-hug";
          inherit (cargoToml.package) version;
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          nativeBuildInputs = [ installShellFiles ];
          # `cargo test` runs the tests that need neither Nix nor the network (a Hub on the sandbox's
          # loopback is fine); the ones that build with Nix are `#[ignore]`d, and scripts/test runs them.
          doCheck = true;
          postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
            for shell in bash zsh fish; do
              $out/bin/nix-hug --generate complete-$shell >completion.$shell
            done
            installShellCompletion --cmd nix-hug \
              --bash completion.bash --zsh completion.zsh --fish completion.fish
          '';
          meta = {
            description = "Declarative Hugging Face model and dataset fetching for Nix";
            homepage = "https://github.com/longregen/nix-hug";
            mainProgram = "nix-hug";
            platforms = lib.platforms.unix;
          };
        };
    in
    {
      # Statically linked on Linux: the builder of lib/'s derivations then has no store path in its
      # closure, so a fetch in the sandbox needs nothing but this one file.
      packages = forAllSystems (
        system: pkgs: {
          nix-hug = (if pkgs.stdenv.hostPlatform.isLinux then pkgs.pkgsStatic else pkgs).callPackage package { };
          default = self.packages.${system}.nix-hug;
        }
      );

      apps = forAllSystems (
        system: pkgs: {
          default = {
            type = "app";
            program = pkgs.lib.getExe self.packages.${system}.nix-hug;
            meta.description = "The nix-hug CLI";
          };
        }
      );

      # fetchModel, fetchDataset, fetchSpace, buildCache, fromLock and parseUrl, built on this flake's nix-hug.
      lib = forAllSystems (system: _: import ./lib { nix-hug = self.packages.${system}.nix-hug; });

      overlays.default = final: prev: { nix-hug = final.callPackage package { }; };

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = with pkgs; [
              cargo
              rustc
              rustfmt
              clippy
              python3
            ];
          };
        }
      );

      # checks/ evaluates to booleans (true, or a throw naming the failing cases); a check that held
      # becomes an empty derivation so that `nix flake check` runs it.
      checks = forAllSystems (
        system: pkgs:
        nixpkgs.lib.mapAttrs (
          name: ok: pkgs.runCommand "nix-hug-check-${name}" { } (assert ok; "touch $out")
        ) (import ./checks { lib = self.lib.${system}; })
        // {
          inherit (self.packages.${system}) nix-hug;
        }
      );
    };
}
