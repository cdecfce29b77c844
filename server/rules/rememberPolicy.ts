/**
 * The one table of what a Bash allow rule may never be about (docs/rules.md, "What
 * “Always allow” remembers" and the refusal table). A command is refused when any of
 * its simple commands (normalised: leading assignments skipped, the basename of the
 * command word) is a shell, an interpreter, a runner or a wrapper, carries flags that
 * run code or write files, writes through a redirection, or holds what the shell would
 * expand into other words (`$…`, unquoted `*?[` and `{`). The same check runs when a
 * rule is made and every time an allow rule is matched, so a prefix rule never covers a
 * command the human could not have remembered.
 */
import { basename } from 'node:path';
import { visibleSegments, type VisibleSegment } from '../../protocol/index.ts';
import { splitCommand, type Segment } from './bashSegments.ts';

/** Commands that run other code given to them (scripts, strings, other commands). */
export const RUNNERS: readonly string[] = [
  // shells
  'sh',
  'bash',
  'rbash',
  'zsh',
  'dash',
  'fish',
  'ksh',
  'mksh',
  'csh',
  'tcsh',
  'ash',
  'yash',
  'elvish',
  'nu',
  'xonsh',
  'osh',
  'busybox',
  'toybox',
  'pwsh',
  'powershell',
  // interpreters
  'node',
  'nodejs',
  'deno',
  'bun',
  'bunx',
  'ruby',
  'irb',
  'php',
  'tclsh',
  'wish',
  'expect',
  'osascript',
  'R',
  'Rscript',
  'julia',
  'luajit',
  'ipython',
  'jupyter',
  'java',
  'jshell',
  'groovy',
  'scala',
  'kotlin',
  'clojure',
  'erl',
  'escript',
  'elixir',
  'iex',
  'ghci',
  'runghc',
  'runhaskell',
  'swift',
  'awk',
  'gawk',
  'mawk',
  'nawk',
  // programs with a shell escape (`.shell`, `\!`, `system`)
  'sqlite3',
  'psql',
  'mysql',
  'mariadb',
  'tmux',
  'screen',
  'open',
  'xdg-open',
  // runners and wrappers: they run the command given as their arguments
  'xargs',
  'env',
  'eval',
  'exec',
  'command',
  'builtin',
  'source',
  '.',
  'sudo',
  'su',
  'doas',
  'pkexec',
  'runuser',
  'chroot',
  'ssh',
  'scp',
  'sftp',
  'watch',
  'timeout',
  'nohup',
  'nice',
  'ionice',
  'taskset',
  'chrt',
  'stdbuf',
  'setsid',
  'unbuffer',
  'script',
  'time',
  'strace',
  'ltrace',
  'gdb',
  'lldb',
  'valgrind',
  'parallel',
  'flock',
  'crontab',
  'at',
  'batch',
  'systemd-run',
  'trap',
  // more runners: environment managers' `run`/`exec` (RUNNING_SUBCOMMANDS), and these whatever their words
  'uvx',
  'tcc',
  'nix-shell',
  'ansible',
  'ansible-playbook',
  'ansible-console',
  'ansible-pull',
  'duckdb',
  'jruby',
  'guile',
  'racket',
  'sbcl',
  'sudoedit',
  'launchctl',
  // editors, pagers, text browsers and file managers: each can start a shell
  'vimdiff',
  'view',
  'rvim',
  'rview',
  'gvim',
  'gview',
  'evim',
  'vimx',
  'pager',
  'most',
  'pg',
  'w3m',
  'lynx',
  'links',
  'elinks',
  'mc',
  'ranger',
  'nnn',
  'lf',
  'vifm',
  'joe',
  'micro',
  'kak',
  'hx',
  'helix',
  // more wrappers and launchers of the command given as their arguments
  'run0',
  'machinectl',
  'toolbox',
  'distrobox',
  'distrobox-enter',
  'flatpak',
  'snap',
  'setpriv',
  'prlimit',
  'numactl',
  'cgexec',
  'capsh',
  'daemonize',
  'start-stop-daemon',
  'dbus-launch',
  'byobu',
  'entr',
  'watchexec',
  'nodemon',
  'concurrently',
  'npm-run-all',
  'run-p',
  'run-s',
  'rlwrap',
  'winpty',
  'hyperfine',
  'perf',
  'catchsegv',
  'nocache',
  'eatmydata',
  'torsocks',
  'proxychains',
  'proxychains4',
  'tsocks',
  'fakechroot',
  'sandbox-exec',
  'chpst',
  'sem',
  'ld.so',
  'wsl',
  'wsl.exe',
  'cmd',
  'cmd.exe',
  'powershell.exe',
  'pwsh.exe',
  'bash.exe',
  // compose runs the services a file names, with their mounts (as `docker compose` is refused)
  'docker-compose',
  'podman-compose',
  'unshare',
  'nsenter',
  'firejail',
  'bwrap',
  'proot',
  'fakeroot',
  'faketime',
  'sg',
  'newgrp',
  'ssh-agent',
  'dbus-run-session',
  'xvfb-run',
  'arch',
  'caffeinate',
  // editors and pagers: each can start a shell
  'vi',
  'vim',
  'nvim',
  'emacs',
  'nano',
  'ed',
  'ex',
  'less',
  'more',
  'man',
  // shell keywords (what follows them runs) and builtins that change how later commands run
  '!',
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'case',
  'esac',
  'for',
  'select',
  'while',
  'until',
  'do',
  'done',
  'in',
  'function',
  'coproc',
  '{',
  '}',
  '[[',
  ']]',
  // `fc -e` and `complete -C`/`bind -x` name a command to run; a fuzzy finder runs `--preview`/`--bind` commands
  'fc',
  'history',
  'complete',
  'bind',
  'fzf',
  'sk',
  'alias',
  'unalias',
  'shopt',
  'set',
  'declare',
  'typeset',
  'export',
  'readonly',
  'local',
  'enable',
  'hash',
  'let',
  'mapfile',
  'readarray',
  'read',
  'printf',
];
const RUNNER_NAMES = new Set(RUNNERS.map((r) => r.toLowerCase()));
/** Name families: `python3.12`, `perl5.36`, `lua5.4`, `pypy3`. */
const RUNNER_FAMILIES =
  /^(python|pypy|perl|lua|luajit|ruby|jruby|php|node|nodejs|tclsh|wish|awk|gawk|mawk|nawk|bash|zsh|ksh|sh|dash|fish|java|guile|racket)[\d.]*$/;

/** Tools whose subcommand runs what follows it (`uv run sh`, `bundle exec sh`): refused
 *  wherever that subcommand stands among the words. */
const RUNNING_SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  uv: ['run', 'tool', 'x'],
  poetry: ['run', 'shell'],
  pipx: ['run'],
  conda: ['run'],
  mamba: ['run'],
  micromamba: ['run'],
  pixi: ['run', 'exec', 'shell'],
  hatch: ['run', 'shell'],
  pdm: ['run'],
  bundle: ['exec', 'console', 'open'],
  mise: ['exec', 'x', 'run', 'r', 'shell', 'activate'],
  direnv: ['exec', 'allow'],
  asdf: ['exec', 'shell'],
  nix: ['run', 'shell', 'develop', 'repl', 'eval'],
};

/** Commands whose nature is to change files: an exact rule is fine (the human saw the
 *  arguments), a prefix never (`rm` would cover `rm -rf ~`). */
export const WRITERS: readonly string[] = [
  'rm',
  'rmdir',
  'mv',
  'cp',
  'ln',
  'chmod',
  'chown',
  'chgrp',
  'dd',
  'truncate',
  'install',
  'mkdir',
  'touch',
  'unlink',
  'shred',
  'patch',
  'tee',
  // copy, compress (replacing the file), split, convert in place, create
  'rsync',
  'gzip',
  'gunzip',
  'bzip2',
  'bunzip2',
  'xz',
  'unxz',
  'lzma',
  'unlzma',
  'zstd',
  'unzstd',
  'lz4',
  'brotli',
  'compress',
  'uncompress',
  '7z',
  '7za',
  '7zr',
  'rar',
  'unrar',
  'cpio',
  'ar',
  'pax',
  // compilers write where `-o` says
  'cc',
  'gcc',
  'g++',
  'c++',
  'clang',
  'clang++',
  'rustc',
  'javac',
  'ld',
  'tsc',
  'esbuild',
  'split',
  'csplit',
  'mkfifo',
  'mknod',
  'mktemp',
  'rename',
  'prename',
  'dos2unix',
  'unix2dos',
  'strip',
  'objcopy',
  'sponge',
  'chattr',
  'setfacl',
];

/** Tools with subcommands: a prefix must name the subcommand (`git status`, never `git`). */
export const SUBCOMMAND_TOOLS: readonly string[] = [
  'git',
  'npm',
  'npx',
  'pnpm',
  'pnpx',
  'yarn',
  'cargo',
  'go',
  'docker',
  'podman',
  'kubectl',
  'gh',
  'pip',
  'pip3',
  'uv',
  'uvx',
  'poetry',
  'brew',
  'apt',
  'apt-get',
  'systemctl',
  'make',
  'gradle',
  'mvn',
  'dotnet',
  'terraform',
  'helm',
  'aws',
  'gcloud',
  'az',
  'rustup',
  'deno',
];

/** The only variables a remembered command may set before its command word (a leading
 *  `NAME=value`): so many others load or choose code (PATH, LD_PRELOAD, NODE_OPTIONS,
 *  GIT_*, CC, GOFLAGS, GCONV_PATH, …) that only a list of harmless ones is safe. */
export const HARMLESS_VARIABLES =
  /^(CI|NODE_ENV|FORCE_COLOR|NO_COLOR|CLICOLOR|TERM|COLUMNS|LINES|LANG|LANGUAGE|LC_[A-Z]+|TZ|DEBUG|RUST_BACKTRACE|RUST_LOG|NODE_NO_WARNINGS|PYTHONUNBUFFERED|PYTHONDONTWRITEBYTECODE)$/;

type FlagCheck = (args: readonly string[]) => string | undefined;

/** An argument up to its first `=` (all of it when it has none). */
const beforeEquals = (arg: string): string => {
  const at = arg.indexOf('=');
  return at < 0 ? arg : arg.slice(0, at);
};

/** An argument equal to one of `names`, or `name=…` for a long one; a long one also when
 *  abbreviated (getopt_long, git, tar and npm accept `--outp` for `--output`) or spelt
 *  with `_`. */
const hasFlag = (args: readonly string[], names: readonly string[]) =>
  args.find((a) => {
    // npm reads `--node_options` as `--node-options`: compare with `_` as `-`
    const long = a.startsWith('--') && a.length > 2 ? beforeEquals(a).replace(/_/g, '-') : undefined;
    return names.some((n) => a === n || (long !== undefined && n.startsWith('--') && n.startsWith(long)));
  });
/** A short option cluster (`-sSLo`) holding one of `letters`, or a long flag in `longs`. */
const hasShort = (args: readonly string[], letters: string) =>
  args.find((a) => /^-[A-Za-z0-9]+/.test(a) && !a.startsWith('--') && [...letters].some((l) => beforeEquals(a.slice(1)).includes(l)));

function sedScripts(args: readonly string[]): string[] {
  const scripts: string[] = [];
  let explicit = false;
  const rest: string[] = [];
  // `args[i]` is undefined exactly when i reaches the end: every argument is read.
  for (let i = 0, a = args[0]; a !== undefined; i += 1, a = args[i]) {
    // `--expression` also abbreviated (`--expr`, `--e`: getopt_long takes any unique prefix)
    const long = a.startsWith('--') && a.length > 2 ? beforeEquals(a) : undefined;
    const expression = long !== undefined && '--expression'.startsWith(long);
    if (a === '-e' || (expression && !a.includes('='))) {
      explicit = true;
      scripts.push(args[i + 1] ?? '');
      i += 1;
    } else if (expression) {
      explicit = true;
      scripts.push(a.slice(a.indexOf('=') + 1));
    } else if (/^-[a-zA-Z]*e/.test(a) && !a.startsWith('--')) {
      explicit = true;
      const after = a.slice(a.indexOf('e') + 1);
      if (after) scripts.push(after);
      else {
        scripts.push(args[i + 1] ?? '');
        i += 1;
      }
    } else if (a === '-l' || a === '--line-length') i += 1;
    else if (!a.startsWith('-')) rest.push(a);
  }
  const [first] = rest;
  if (!explicit && first !== undefined) scripts.push(first);
  return scripts;
}

const GIT_GLOBAL_OK = new Set(['--no-pager', '--no-optional-locks', '-P', '--no-replace-objects', '--literal-pathspecs', '--paginate', '-p']);
const GIT_SUBCOMMANDS_REFUSED = new Set([
  'config',
  'submodule',
  'bisect',
  'filter-branch',
  'filter-repo',
  'difftool',
  'mergetool',
  'daemon',
  'instaweb',
  'hook',
  'credential',
  'credential-store',
  'credential-cache',
  'send-email',
  'archimport',
  'cvsimport',
  'svn',
  'p4',
  'web--browse',
  'shell',
  'upload-pack',
  'receive-pack',
  'remote-ext',
  // write outside the repository or install programs: a bundle anywhere, timers and ~/.gitconfig, LFS hooks and filters
  'bundle',
  'maintenance',
  'lfs',
]);
const NPM_SUBCOMMANDS_REFUSED = new Set(['exec', 'x', 'explore', 'init', 'create', 'innit', 'config', 'set', 'edit', 'dlx']);
const NPM_FLAGS = [
  '--node-options',
  '--script-shell',
  '--shell',
  '--userconfig',
  '--globalconfig',
  '--call',
  '--registry',
  '--prefix',
  '--cache',
  '--init-module',
  '--editor',
  '--browser',
  '--git',
  '--viewer',
  '--ignore-scripts',
  '--foreground-scripts',
  '--package',
  '--node-arg',
  '--require',
  '--import',
  '--loader',
  '--config',
  // another folder's package.json and scripts (npm's `-C` is its --prefix), another config file, another node-gyp
  '--dir',
  '--cwd',
  '--use-yarnrc',
  '--node-gyp',
];
/** npm/pnpm/yarn: a refused flag, `-C` (another folder) in a cluster, or pnpm's `--config.KEY=value`. */
const npmFlags = (args: readonly string[], letters: string) => hasFlag(args, NPM_FLAGS) ?? hasShort(args, letters) ?? args.find((a) => /^--config\./i.test(a));

/** Per command: the flags that run code or write files. Each returns the offending flag. */
export const FLAG_CHECKS: Readonly<Record<string, FlagCheck>> = {
  find: (args) => hasFlag(args, ['-exec', '-execdir', '-ok', '-okdir', '-delete', '-fprint', '-fprint0', '-fprintf', '-fls']),
  sed: (args) =>
    hasFlag(args, ['--in-place', '-f', '--file', '-s']) ??
    hasShort(args, 'if') ??
    (sedScripts(args).some((s) => /[ewW]/.test(s)) ? 'a sed script with e, w or W (runs a command or writes a file)' : undefined),
  git: (args) => {
    let i = 0;
    for (let flag = args[i]; flag?.startsWith('-'); i += 1, flag = args[i]) if (!GIT_GLOBAL_OK.has(flag)) return `${flag} before the subcommand`;
    const sub = args[i];
    if (sub !== undefined && GIT_SUBCOMMANDS_REFUSED.has(sub)) return `git ${sub}`;
    const rest = args.slice(i + 1);
    if (sub === 'worktree' && rest.includes('add')) return 'git worktree add (checks files out into any folder)';
    return (
      hasFlag(rest, [
        '--output',
        '-o',
        '--ext-diff',
        '--upload-pack',
        '--receive-pack',
        '--exec',
        '-x',
        '--open-files-in-pager',
        '--config',
        '--template',
        '--extcmd',
        '--tool',
        '-t',
        '--gpg-program',
        '--run',
        '--exec-path',
        '-c',
        '--unsafe-paths',
        '--directory',
      ]) ?? rest.find((a) => /^-O/.test(a) || /^--(upload-pack|receive-pack|exec|output|open-files-in-pager|extcmd|tool)/.test(a))
    );
  },
  npm: (args) => (NPM_SUBCOMMANDS_REFUSED.has(args[0] ?? '') ? `npm ${args[0]}` : npmFlags(args, 'cC')),
  npx: (args) => npmFlags(args, 'cpC'),
  pnpm: (args) => (NPM_SUBCOMMANDS_REFUSED.has(args[0] ?? '') ? `pnpm ${args[0]}` : npmFlags(args, 'C')),
  pnpx: (args) => npmFlags(args, 'C'),
  yarn: (args) => (NPM_SUBCOMMANDS_REFUSED.has(args[0] ?? '') ? `yarn ${args[0]}` : npmFlags(args, '')),
  make: (args) =>
    hasFlag(args, [
      '--eval',
      '-E',
      '-f',
      '--file',
      '--makefile',
      '-C',
      '--directory',
      '-I',
      '--include-dir',
      '-o',
      '--old-file',
      '-W',
      '--what-if',
      '--new-file',
      '--assume-new',
    ]) ??
    args.find((a) => a.includes('=')) ??
    hasShort(args, 'EfCIoW'),
  tar: (args) => {
    const exec = hasFlag(args, [
      '--to-command',
      '--checkpoint-action',
      '--use-compress-program',
      '-I',
      '--info-script',
      '-F',
      '--new-volume-script',
      '--rsh-command',
      '--rmt-command',
    ]);
    if (exec) return exec;
    // Short options take their value attached (`-I/tmp/prog` runs prog, seen): a cluster, or
    // old-style keys (`tfI`), may hold only listing letters.
    for (const [i, a] of args.entries()) {
      if (a.startsWith('--')) continue;
      const letters = a.startsWith('-') ? a.slice(1) : i === 0 ? a : '';
      if (letters && !/^[tvfzjJ]+$/.test(letters)) return `tar ${a}`;
    }
    // `host:archive` is read through a remote shell (rsh/ssh) unless --force-local
    if (!args.includes('--force-local') && args.some((a) => a.includes(':'))) return 'tar with a remote archive (host:file runs a remote shell)';
    const mode = (args[0] ?? '').replace(/^-/, '');
    const listing = args.includes('--list') || args.includes('-t') || (/^[A-Za-z]+$/.test(mode) && mode.includes('t') && !/[xcruA]/.test(mode));
    return listing ? undefined : 'tar other than --list (extracts or writes an archive)';
  },
  rsync: (args) => hasFlag(args, ['-e', '--rsh', '--rsync-path', '--daemon', '--config', '--write-batch', '--only-write-batch']) ?? hasShort(args, 'e'),
  curl: (args) =>
    hasFlag(args, [
      '-o',
      '-O',
      '--output',
      '--remote-name',
      '--remote-name-all',
      '-K',
      '--config',
      '-D',
      '--dump-header',
      '--trace',
      '--trace-ascii',
      '-c',
      '--cookie-jar',
      '--etag-save',
      '--libcurl',
      '--stderr',
      '-T',
      '--upload-file',
      '--output-dir',
      '--create-dirs',
      '-J',
      '--remote-header-name',
      '--hsts',
      '--alt-svc',
    ]) ??
    // uploads of a local file: a form (`-F k=@file`, `k=<file`), JSON or url-encoded data from a file
    hasFlag(args, ['-F', '--form', '--json', '--data-urlencode', '--url-query']) ??
    hasShort(args, 'oOKDcTJF') ??
    args.find((a) => a.startsWith('@') || /^-d@|^--data(-binary|-raw|-urlencode)?=@|=@|=</.test(a)) ??
    // `-w '%output{FILE}'` writes to FILE (curl 8.3+); `-w @file` reads the format from a file
    args.find((a, i) => /%output\{/i.test(a) || /^(-w|--write-out=?)@/.test(a) || ((a === '-w' || a === '--write-out') && (args[i + 1] ?? '').startsWith('@'))),
  // another crate (its build.rs runs), configuration that names programs (`build.rustc-wrapper`),
  // unstable flags, `-C` (another folder; after `--` rustc's codegen options such as `linker=`),
  // output folders anywhere
  cargo: (args) => hasFlag(args, ['--config', '--manifest-path', '--target-dir', '--artifact-dir', '--out-dir', '--lockfile-path']) ?? hasShort(args, 'ZC'),
  // tools that run a command named in a flag, or write where a flag says
  compgen: (args) => hasFlag(args, ['-C', '-F']) ?? hasShort(args, 'CF'),
  rg: (args) => hasFlag(args, ['--pre']),
  fd: (args) => hasFlag(args, ['-x', '--exec', '-X', '--exec-batch']) ?? hasShort(args, 'xX'),
  fdfind: (args) => hasFlag(args, ['-x', '--exec', '-X', '--exec-batch']) ?? hasShort(args, 'xX'),
  bat: (args) => hasFlag(args, ['--pager']),
  batcat: (args) => hasFlag(args, ['--pager']),
  tree: (args) => hasFlag(args, ['-o']) ?? hasShort(args, 'o'),
  // `xxd IN OUT` writes OUT, `-r` turns a dump back into a file
  xxd: (args) =>
    args.includes('-r') || hasShort(args, 'r') || args.filter((a) => !a.startsWith('-')).length > 1 ? 'xxd -r or with an output file' : undefined,
  yq: (args) => hasFlag(args, ['-i', '--inplace', '--in-place']) ?? hasShort(args, 'i'),
  // a script (`-P`), command mode (`-E env …`), an initial-cache script (`-C`), a compiler (`-DCMAKE_C_COMPILER=`)
  cmake: (args) => args.find((a) => /^-[PECD]/.test(a)),
  ctest: (args) => args.find((a) => /^-S|^--script/.test(a)),
  gh: (args) =>
    ['extension', 'extensions', 'ext', 'alias', 'config', 'codespace', 'cs'].includes(args[0] ?? '')
      ? `gh ${args[0]} (installs or configures programs, or opens a remote shell)`
      : undefined,
  // writes (`-out`, `-keyout`), loads a shared library (`-engine`, `-provider`)
  openssl: (args) => args.find((a) => /^-(out|keyout|engine|provider|provider-path|writerand|config)$/.test(a)),
  gpg: (args) =>
    hasFlag(args, ['-o', '--output', '--photo-viewer', '--exec-path', '--homedir', '--options', '--load-extension', '--keyserver-options']) ??
    hasShort(args, 'o'),
  cc: compilerCheck,
  gcc: compilerCheck,
  'g++': compilerCheck,
  'c++': compilerCheck,
  clang: compilerCheck,
  'clang++': compilerCheck,
  // `-C linker=…` (also `-Clinker=`), `-Z` unstable options, an options file
  rustc: (args) => args.find((a) => /^-[CZ]|^--codegen|^@/.test(a)),
  // annotation processors run code; `@file` holds more options
  javac: (args) => args.find((a) => /^-processor|^--processor|^-Xplugin|^@/.test(a)),
  // `ip netns exec NS CMD`, `ip vrf exec VRF CMD` run CMD
  ip: (args) => (args.includes('exec') ? 'ip … exec (runs the command given)' : undefined),
  pip: pipCheck,
  pip3: pipCheck,
  go: goCheck,
  pytest: pytestCheck,
  'py.test': pytestCheck,
  wget: () => 'wget (writes the file it fetches)',
  dd: (args) => args.find((a) => a.startsWith('of=')),
  sort: (args) => hasFlag(args, ['-o', '--output', '--compress-program']) ?? hasShort(args, 'o'),
  uniq: (args) => (args.filter((a) => !a.startsWith('-')).length > 1 ? 'uniq with an output file' : undefined),
  diff: (args) => hasFlag(args, ['--to-file', '--from-file']),
  zip: () => 'zip (writes an archive)',
  unzip: (args) => (args.includes('-l') || args.includes('-v') ? undefined : 'unzip other than -l (extracts files)'),
  tee: () => 'tee (writes files)',
  docker: (args) => containerCheck('docker', args),
  podman: (args) => containerCheck('podman', args),
  kubectl: (args) => {
    // Any word, not the first one without a dash: `kubectl -n prod exec` has `prod` first.
    const sub = args.find((a) => KUBECTL_REFUSED.has(a));
    return sub
      ? `kubectl ${sub}`
      : hasFlag(args, [
          '--kubeconfig',
          '--server',
          '-s',
          '--context',
          '--cluster',
          '--user',
          '--token',
          '--as',
          '--as-group',
          '--as-uid',
          '--certificate-authority',
          '--client-certificate',
          '--client-key',
          '--insecure-skip-tls-verify',
        ]);
  },
};

const KUBECTL_REFUSED = new Set([
  'exec',
  'run',
  'cp',
  'debug',
  'attach',
  'apply',
  'create',
  'replace',
  'patch',
  'edit',
  'delete',
  'port-forward',
  'proxy',
  'plugin',
  'set',
  'scale',
  'label',
  'annotate',
  'taint',
  'drain',
  'cordon',
  'uncordon',
  'autoscale',
  'expose',
  'certificate',
  'kustomize',
]);
const CONTAINER_REFUSED = new Set([
  'run',
  'exec',
  'create',
  'cp',
  'container',
  'plugin',
  'compose',
  'buildx',
  'builder',
  'build',
  'start',
  'restart',
  'commit',
  'load',
  'import',
  'swarm',
  'service',
  'stack',
  'context',
]);

/** Go's flag package: one or two dashes, the value after `=` or as the next word. */
const GO_FLAGS_REFUSED = new Set(['exec', 'toolexec', 'vettool', 'overlay', 'modfile', 'C', 'o', 'pkgdir', 'w', 'u']);
/** `go test -exec P` runs the test binary through P, `-toolexec`/`-vettool` run programs,
 *  `-overlay`/`-modfile` swap sources, `go -C` another folder, `-o` writes anywhere (a `git`
 *  in `~/go/bin`), an external linker runs (`-extld`); `go env -w`/`-u` change what every
 *  later `go` command runs (GOFLAGS); `go generate` runs the commands the sources name. */
function goCheck(args: readonly string[]): string | undefined {
  const sub = args.find((a) => !a.startsWith('-'));
  if (sub === 'generate') return 'go generate';
  const flag = args.find((a) => {
    const name = /^--?([A-Za-z]+)/.exec(a)?.[1];
    return name !== undefined && (GO_FLAGS_REFUSED.has(name) || /extld|extar/.test(a));
  });
  return flag ?? args.find((a) => /extld|extar/.test(a));
}

/** A C compiler runs the programs and plugins its flags name: `-wrapper sh,-c,CMD`, a
 *  plugin, another tool folder (`-B`), a specs file, an options file (`@file`), clang's
 *  `-Xclang -load`. (`-o` writes anywhere: compilers are WRITERS, exact rules only.) */
function compilerCheck(args: readonly string[]): string | undefined {
  return (
    args.find((a) =>
      /^-(wrapper|fplugin|fpass-plugin|B|specs|-specs|load|Xclang|Xlinker|Wl,|fuse-ld|no-integrated-as|integrated-as)|^--(gcc-toolchain|sysroot|ld-path)|^@/.test(
        a,
      ),
    ) ?? args.find((a) => /^-(Xassembler|Xpreprocessor)$/.test(a))
  );
}

/** pip's global options run it under another interpreter (`--python`) or append its log to
 *  any file (`--log`); install options write anywhere or build from any folder (`-e PATH`). */
function pipCheck(args: readonly string[]): string | undefined {
  return (
    hasFlag(args, [
      '--python',
      '--log',
      '--log-file',
      '--target',
      '-t',
      '--prefix',
      '--root',
      '--src',
      '-d',
      '--dest',
      '--cache-dir',
      '-e',
      '--editable',
      '--config-settings',
      '-C',
    ]) ?? hasShort(args, 'tdeC')
  );
}

/** pytest empties `--basetemp` (`pytest --basetemp=$HOME`), writes reports anywhere, imports
 *  the plugins and configuration it is told to, and uploads to a pastebin. argparse takes
 *  abbreviations, which hasFlag refuses too; `-p`/`-c`/`-o` also attached (`-pevil`). */
function pytestCheck(args: readonly string[]): string | undefined {
  return (
    hasFlag(args, [
      '--basetemp',
      '-p',
      '-c',
      '--config-file',
      '--inifile',
      '-o',
      '--override-ini',
      '--rootdir',
      '--confcutdir',
      '--junitxml',
      '--junit-xml',
      '--junit-prefix',
      '--log-file',
      '--debug',
      '--pastebin',
      '--pdbcls',
      '--pyargs',
      '--resultlog',
      '--result-log',
      '--html',
      '--report-log',
      '--json-report-file',
    ]) ??
    args.find((a) => /^--cov-report/.test(a)) ??
    hasShort(args, 'pco')
  );
}

/** `docker run` and friends run any image with any mount: as good as root. A refused
 *  subcommand is looked for in every word (an option value comes before it in
 *  `docker --log-level error run`; `docker image build` is `build`), and the daemon or
 *  context flags also in a cluster (`-Htcp://…`, `-c ctx`). */
function containerCheck(tool: string, args: readonly string[]): string | undefined {
  const sub = args.find((a) => CONTAINER_REFUSED.has(a));
  if (sub) return `${tool} ${sub}`;
  return hasFlag(args, ['-H', '--host', '--context', '--config', '--tlscacert', '--tlscert', '--tlskey']) ?? hasShort(args, 'Hc');
}

export type Normalised = {
  /** Leading `NAME=value` words. */
  assignments: string[];
  /** The basename of the command word. */
  command: string;
  /** The words after the command word. */
  args: string[];
};

/** `NAME=value` and `NAME+=value` (an append is an assignment too). */
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;

export function normalise(words: readonly string[]): Normalised | undefined {
  let i = 0;
  while (ASSIGNMENT.test(words[i] ?? '')) i += 1;
  const command = words[i];
  if (command === undefined) return undefined;
  return { assignments: words.slice(0, i), command: basename(command), args: words.slice(i + 1) };
}

/** Why one simple command may not be covered by an allow rule, or undefined. */
export function segmentRefusal(segment: Segment): string | undefined {
  if (segment.unsafeRedirect) return 'it writes to a file through a redirection';
  const words = segment.words;
  const dollar = words.find((w) => w.includes('$') || w.includes('`'));
  if (dollar !== undefined) return `"${dollar}" expands when it runs (a variable or substitution)`;
  const n = normalise(words);
  if (!n) return 'it only sets variables';
  const variable = n.assignments.map((a) => /^[A-Za-z_][A-Za-z0-9_]*/.exec(a)![0]).find((name) => !HARMLESS_VARIABLES.test(name));
  if (variable) return `it sets ${variable}, and a variable may choose or load code (only CI, NODE_ENV, LANG, … are remembered)`;
  // in any case: on a case-insensitive file system (macOS) `BASH` runs bash
  const name = n.command.toLowerCase();
  if (RUNNER_NAMES.has(name) || RUNNER_FAMILIES.test(name) || /^ld-linux|^ld64\.so|^ld-musl/.test(name))
    return `"${n.command}" is a shell, an interpreter or a runner: it runs whatever it is given`;
  const running = RUNNING_SUBCOMMANDS[name]?.find((sub) => n.args.includes(sub));
  if (running) return `"${n.command} ${running}" runs whatever command it is given`;
  const check = FLAG_CHECKS[name];
  const flag = check?.(n.args);
  if (flag) return `"${n.command}" with ${flag} runs code or writes files`;
  return undefined;
}

/** Characters the shell expands outside quotes into other words: pathname patterns and
 *  braces. The reader gives words with quotes removed, so look at the text. */
export function unquotedExpansion(command: string): string | undefined {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i];
    if (quote === "'") {
      if (c === "'") quote = null;
    } else if (c === '\\') i += 1;
    else if (quote === '"') {
      if (c === '"') quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '*' || c === '?' || c === '[' || c === '{') return c;
    // an extended glob `@(…)`, `!(…)`, `+(…)` (extglob, which a user's shell options may
    // turn on): the reader sees `find . !(find .)` as two `find .`, bash as every file name
    else if (c === '(') {
      const before = command[i - 1];
      if (before !== undefined && /[@!+]/.test(before)) return `${before}(`;
    }
  }
  return undefined;
}

/** The first redirection that may open a file, read from the text (not from the Bash
 *  reader, which loses whether `&` came first): `> 1` and `>-` write files named `1` and
 *  `-`, `&>2` a file `2`. Only `/dev/null` (written plainly) after a file operator (`>`,
 *  `>>`, `>|`, `<`, `<>`, `&>`, `&>>`) and a descriptor (`N`, `-`, `N-`) after a
 *  duplication (`>&`, `<&`) are benign; anything else, quoted targets included, is not. */
export function fileRedirection(command: string): string | undefined {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      continue;
    }
    if (c === '\\') {
      i += 1;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    if (c !== '>' && c !== '<') continue;
    const start = i;
    const both = command[i - 1] === '&' && c === '>';
    let op = c;
    const next = command[i + 1];
    if (next === '(' || (c === '<' && next === '<')) return command.slice(start, start + 2);
    if (next === '>' || next === '|' || next === '&' || (c === '<' && next === '>')) {
      op += next;
      i += 1;
    }
    let j = i + 1;
    while (command[j] === ' ' || command[j] === '\t') j += 1;
    let k = j;
    while (k < command.length && !/[\s;&|()<>]/.test(command.charAt(k))) k += 1;
    const target = command.slice(j, k);
    const duplication = !both && op.endsWith('&');
    const benign = duplication ? /^(\d+-?|-)$/.test(target) : target === '/dev/null';
    if (!benign) return `${both ? '&' : ''}${op}${command.slice(i + 1, k)}`;
    i = k - 1;
  }
  return undefined;
}

/** Control characters (but tab and newline), bidi controls and zero-width characters:
 *  what the human saw may not be what runs. The reader refuses them too; this table
 *  does not depend on it. */
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u206f\ufeff]/u;

export type PolicyResult = { ok: true; segments: Segment[] } | { ok: false; reason: string };

/** The last answer: every allow rule asks about the same command in turn. */
let last: { command: string; result: PolicyResult } | undefined;

/** May an allow rule cover this command at all? (Also the check for making one.) */
export function commandPolicy(command: string): PolicyResult {
  if (last?.command === command) return last.result;
  const result = judge(command);
  last = { command, result };
  return result;
}

function judge(command: string): PolicyResult {
  const hidden = HIDDEN.exec(command);
  if (hidden)
    return { ok: false, reason: `it holds the invisible or control character U+${hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` };
  // Everything else the card shows as an escape (look-alike spaces, tag characters,
  // variation selectors, lone surrogates): one table, protocol/visibleText.ts.
  const escaped = visibleSegments(command).find((segment): segment is Extract<VisibleSegment, { kind: 'escape' }> => segment.kind === 'escape');
  if (escaped) return { ok: false, reason: `it holds the hidden character ${escaped.text} (${escaped.name})` };
  const split = splitCommand(command);
  if (!split.ok) return { ok: false, reason: `the command cannot be read for sure (${split.reason})` };
  if (split.segments.length === 0) return { ok: false, reason: 'the command is empty' };
  const redirect = fileRedirection(command);
  if (redirect) return { ok: false, reason: `"${redirect}" writes to (or reads) a file through a redirection` };
  const glob = unquotedExpansion(command);
  if (glob) return { ok: false, reason: `an unquoted "${glob}" expands to whatever files exist` };
  for (const segment of split.segments) {
    const why = segmentRefusal(segment);
    if (why) return { ok: false, reason: why };
  }
  return { ok: true, segments: split.segments };
}

/** The prefixes a human may choose for this command: one simple command only, not a
 *  writer, at least the command word (and the subcommand for SUBCOMMAND_TOOLS), up to
 *  all its words. Each is a list of words. */
export function prefixChoices(segments: readonly Segment[], decision: 'allow' | 'deny' = 'allow'): string[][] {
  const [segment] = segments;
  if (segments.length !== 1 || segment === undefined) return [];
  const words = segment.words;
  const n = normalise(words);
  // A deny prefix only widens what is refused: writers are fine there.
  const name = n?.command.toLowerCase();
  if (!n || !name || (decision === 'allow' && WRITERS.includes(name))) return [];
  const commandAt = n.assignments.length;
  const subcommands = SUBCOMMAND_TOOLS.includes(name);
  // The word after the command must be the subcommand itself: a prefix that stops at an
  // option before it (`git --no-pager`, `kubectl -n prod`, `cargo +nightly`) covers every
  // subcommand. Such a command is remembered exactly, or not at all.
  if (subcommands && /^[-+]/.test(words[commandAt + 1] ?? '-')) return [];
  const min = commandAt + (subcommands ? 2 : 1);
  const out: string[][] = [];
  for (let k = words.length; k >= min; k -= 1) out.push(words.slice(0, k));
  return out;
}
