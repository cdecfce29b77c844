/**
 * Runs generated commands in real bash, contained, and records every program bash ran
 * (docs/rules.md "Differential tests against real bash"). PATH holds only a folder of stub
 * programs: each appends its argv to a log and exits (0; `false` exits 1). One driver bash
 * per worker reads NUL-separated cases from stdin and runs each as
 * `timeout -s KILL T /bin/bash --norc --noprofile -c CMD` with stdin from /dev/null, a
 * throwaway HOME and working folder, and an environment of known variables only. As root,
 * the driver runs in a new network namespace (`unshare --net`) as the user nobody
 * (`setpriv`), so a generated command can reach no network and write no file of ours.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Programs the generator may call; bash finds them in PATH (no absolute paths anywhere). */
export const STUBS = [
  'git',
  'ls',
  'echo',
  'npm',
  'head',
  'cat',
  'grep',
  'touch',
  'rm',
  'curl',
  'pwned',
  'true',
  'false',
  'sh',
  'bash',
  'env',
  'sudo',
  'xargs',
  'find',
  'sed',
  'make',
  'node',
  'perl',
  'cmd',
  'nohup',
  'timeout',
] as const;

/** Builtins the stubs stand in for (disabled through BASH_ENV, so their calls are recorded).
 *  None of them can run code, so disabling them hides nothing. */
export const DISABLED_BUILTINS = ['echo', 'true', 'false'] as const;

/** The variables every case sees, with known values (the predictor expands them). The
 *  last three hold payloads that run `pwned` when bash evaluates them as code. */
export const CASE_VARIABLES: Record<string, string> = {
  X: 'hello',
  Y: 'a b',
  E: '',
  S: 'status',
  D: '--output=x',
  G: '*',
  IND: 'x[$(pwned ind)]',
  PR: '$(pwned prompt)',
  AR: 'x[$(pwned arith)]',
};

export type CaseRun = { command: string; status: number; timedOut: boolean; runs: string[][] };

export type Sandbox = {
  root: string;
  /** The HOME of every case, and PATH (the stubs' folder). */
  home: string;
  path: string;
  containment: string;
  run(commands: readonly string[], workers?: number): Promise<CaseRun[]>;
  dispose(): void;
};

const findProgram = (name: string) => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((dir) => join(dir, name)).find((path) => existsSync(path));
const TIMEOUT = findProgram('timeout');
const NOBODY = 65534;

/** The stub in C, built when a C compiler is at hand: about three times cheaper to start
 *  than the shell one, which matters at 20,000 cases. Same record, same exit status. */
const STUB_C = `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  static char buf[1 << 16];
  size_t n = 0;
  const char *log = getenv("GH_LOG"), *id = getenv("GH_CASE");
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  char count[16];
  snprintf(count, sizeof count, "%d", argc - 1);
  const char *head[4] = { "R", id ? id : "", name, count };
  for (int i = 0; i < 3 + argc; i++) {
    const char *s = i < 4 ? head[i] : argv[i - 3];
    size_t l = strlen(s);
    if (n + l + 1 > sizeof buf) return 2;
    memcpy(buf + n, s, l + 1);
    n += l + 1;
  }
  int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
  if (fd < 0 || write(fd, buf, n) != (ssize_t)n) return 2;
  close(fd);
  return strcmp(name, "false") == 0;
}
`;

const STUB = `#!/bin/sh
printf '%s\\0' R "$GH_CASE" "\${0##*/}" "$#" "$@" >>"$GH_LOG"
[ "\${0##*/}" != false ]
`;

const DRIVER = `export -n GH_RESULTS GH_FIRST GH_SECONDS
i=$GH_FIRST
while IFS= read -r -d '' cmd; do
  GH_CASE=$i ${TIMEOUT ?? 'timeout'} -s KILL "$GH_SECONDS" /bin/bash --norc --noprofile -c "$cmd" </dev/null >/dev/null 2>&1
  printf '%s\\0%s\\0' "$i" "$?" >>"$GH_RESULTS"
  i=$((i+1))
done
`;

export function bashAvailable(): string | undefined {
  if (process.platform !== 'linux') return 'the differential suite needs Linux';
  if (!existsSync('/bin/bash')) return 'no /bin/bash';
  if (!TIMEOUT) return 'no timeout(1) in /usr/bin or /bin';
  return undefined;
}

function containmentPrefix(): { prefix: string[]; description: string } {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const unshare = findProgram('unshare');
  const setpriv = findProgram('setpriv');
  if (!root || !unshare || !setpriv)
    return { prefix: [], description: 'none (not root, or no unshare/setpriv): stubs only, a throwaway HOME and working folder' };
  // --pdeathsig: a driver dies with the test process, even one killed without cleanup.
  const prefix = [unshare, '--net', '--', setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--pdeathsig', 'KILL', '--'];
  const probe = spawnSync(unshare, [...prefix.slice(1), '/bin/bash', '-c', ':'], { stdio: 'ignore' });
  if (probe.status === 0) return { prefix, description: 'unshare --net, as nobody (setpriv)' };
  return { prefix: [], description: 'none (unshare/setpriv refused): stubs only, a throwaway HOME and working folder' };
}

/** Compiles the C stub (static if the toolchain can), or says no. */
function buildStub(root: string): string | undefined {
  const cc = findProgram('cc') ?? findProgram('gcc');
  if (!cc) return undefined;
  const source = join(root, 'stub.c');
  const binary = join(root, 'stub');
  writeFileSync(source, STUB_C);
  for (const flags of [['-O2', '-static'], ['-O2']]) {
    if (spawnSync(cc, [...flags, '-o', binary, source], { stdio: 'ignore' }).status === 0) {
      chmodSync(binary, 0o755);
      return binary;
    }
  }
  return undefined;
}

export function createSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'gh-bash-diff-'));
  chmodSync(root, 0o755);
  const stubs = join(root, 'stubs');
  mkdirSync(stubs);
  const compiled = buildStub(root);
  for (const name of STUBS) {
    if (compiled) linkSync(compiled, join(stubs, name));
    else writeFileSync(join(stubs, name), STUB, { mode: 0o755 });
  }
  writeFileSync(join(root, 'bashenv'), `enable -n ${DISABLED_BUILTINS.join(' ')}\ntrap wait EXIT\n`, { mode: 0o644 });
  writeFileSync(join(root, 'driver.sh'), DRIVER, { mode: 0o644 });
  const { prefix, description } = containmentPrefix();
  const home = join(root, 'home');
  mkdirSync(home);
  if (prefix.length) chownSync(home, NOBODY, NOBODY);
  let batch = 0;
  const running = new Set<ReturnType<typeof spawn>>();

  async function runWorker(commands: readonly string[], first: number): Promise<Map<number, { status: number; runs: string[][] }>> {
    batch += 1;
    const dir = join(root, `worker-${batch}`);
    const workDir = join(dir, 'work');
    mkdirSync(workDir, { recursive: true });
    const log = join(dir, 'log');
    const results = join(dir, 'results');
    writeFileSync(log, '');
    writeFileSync(results, '');
    if (prefix.length) for (const path of [dir, workDir, log, results]) chownSync(path, NOBODY, NOBODY);
    const env = {
      ...CASE_VARIABLES,
      PATH: stubs,
      HOME: home,
      BASH_ENV: join(root, 'bashenv'),
      GH_LOG: log,
      GH_RESULTS: results,
      GH_FIRST: String(first),
      GH_SECONDS: '2',
      LC_ALL: 'C.UTF-8',
    };
    const [command, ...args] = [...prefix, '/bin/bash', '--norc', '--noprofile', join(root, 'driver.sh')];
    // fd 9 is inherited by every process of every case: 'close' fires once the last one
    // (a straggler left in the background too) has exited, so no record is missed.
    const child = spawn(command, args, {
      cwd: workDir,
      env,
      stdio: ['pipe', 'ignore', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'pipe'],
    });
    running.add(child);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    (child.stdio as unknown as NodeJS.ReadableStream[])[9]!.resume();
    child.stdin!.end(commands.map((text) => `${text}\0`).join(''));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status) => resolve(status));
    }).finally(() => running.delete(child));
    if (code !== 0) throw new Error(`the bash driver exited with ${code}: ${stderr}`);
    const out = new Map<number, { status: number; runs: string[][] }>();
    const fields = readFileSync(results, 'utf8').split('\0');
    for (let k = 0; k + 1 < fields.length; k += 2) out.set(Number(fields[k]), { status: Number(fields[k + 1]), runs: [] });
    const records = readFileSync(log, 'utf8').split('\0');
    for (let k = 0; k < records.length - 1; ) {
      if (records[k] !== 'R') throw new Error(`a corrupt stub log at field ${k}: ${JSON.stringify(records.slice(k, k + 5))}`);
      const id = Number(records[k + 1]);
      const name = records[k + 2] ?? '';
      const count = Number(records[k + 3]);
      const argv = [name, ...records.slice(k + 4, k + 4 + count)];
      k += 4 + count;
      const entry = out.get(id);
      if (!entry) throw new Error(`a stub ran for case ${id}, which has no result`);
      entry.runs.push(argv);
    }
    return out;
  }

  return {
    root,
    home,
    path: stubs,
    containment: description,
    async run(commands, workers = 2) {
      const size = Math.ceil(commands.length / workers);
      const chunks = Array.from({ length: workers }, (_, index) => ({ first: index * size, list: commands.slice(index * size, (index + 1) * size) })).filter(
        (chunk) => chunk.list.length,
      );
      const maps = await Promise.all(chunks.map((chunk) => runWorker(chunk.list, chunk.first)));
      return commands.map((command, index) => {
        const entry = maps.find((map) => map.has(index))?.get(index);
        if (!entry) throw new Error(`case ${index} has no result`);
        return { command, status: entry.status, timedOut: entry.status === 137 || entry.status === 124, runs: entry.runs };
      });
    },
    dispose() {
      // A run cut short (a test timeout) must not leave its drivers behind.
      for (const child of running) child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    },
  };
}
