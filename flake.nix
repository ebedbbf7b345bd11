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
          # The tests need a loopback Hub and a real Nix store; .ci/run runs them.
          doCheck = false;
          postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
            installShellCompletion --cmd nix-hug \
              --bash <($out/bin/nix-hug --generate complete-bash) \
              --zsh <($out/bin/nix-hug --generate complete-zsh) \
              --fish <($out/bin/nix-hug --generate complete-fish)
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
      packages = forAllSystems (
        system: pkgs: {
          nix-hug = pkgs.callPackage package { };
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

      # fetchModel, fetchDataset, buildCache and parseUrl, built on this flake's nix-hug.
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
