import { describe, expect, it } from 'vitest';
import { openAgentsDb } from '../agents/db.ts';
import { commandPolicy } from './rememberPolicy.ts';
import { proposeRule, ruleCovers, type Rule } from './ruleMatch.ts';
import { RuleStore } from './ruleStore.ts';

const bash = (command: string) => ({ toolName: 'Bash', input: { command }, context: {} });
const allow = (pattern: string, kind: Rule['kind']): Rule => ({
  id: 'r',
  toolName: 'Bash',
  pattern,
  kind,
  decision: 'allow',
  scope: 'global',
  createdAt: 0,
  createdBy: 'test',
});

describe('RULE-11: the remember policy', () => {
  it('RULE-11: refuses shells, interpreters, runners and wrappers, by basename and after assignments', () => {
    for (const command of [
      'sh x.sh',
      'bash',
      '/bin/bash -c ls',
      'zsh',
      'dash',
      'fish',
      'python3.12 x.py',
      'python -m http.server',
      'node x.js',
      'deno run x',
      'bun x',
      'perl -e 1',
      'ruby x',
      'php x',
      'lua x',
      'awk "{print}" f',
      'xargs ls',
      'env',
      'eval ls',
      'exec ls',
      'sudo ls',
      'su',
      'doas ls',
      'ssh host',
      'watch ls',
      'timeout 1 ls',
      'nohup ls',
      'nice ls',
      'parallel ls',
      'FOO=1 bash',
      'ls | sh',
      'git status; python',
      'sqlite3 db .shell',
      'psql',
      'tmux new',
      'unshare -r sh',
      'java -jar x.jar',
      'docker run -v /:/h alpine',
      'docker exec c sh',
      'podman run x',
      'kubectl exec p -- sh',
    ]) {
      expect(commandPolicy(command).ok, command).toBe(false);
    }
  });

  it('RULE-11: refuses flags that run code or write files', () => {
    for (const command of [
      'find . -exec ls {} ;',
      'find . -execdir ls {} +',
      'find . -ok ls {} ;',
      'find . -delete',
      'find . -fprint /tmp/x',
      "sed -e '1e id' f",
      "sed 's/a/b/w /tmp/x' f",
      'sed -i s/a/b/ f',
      'sed -ni p f',
      'sed --in-place s/a/b/ f',
      'git -c core.pager=sh log',
      'git diff --output=/tmp/x',
      'git diff --ext-diff',
      'git fetch --upload-pack=x',
      'git config core.fsmonitor x',
      'git -C /tmp status',
      'npm test --node-options=--require=x',
      'npm run x --script-shell=/tmp/s',
      'npx --node-options=x tsc',
      'npm exec foo',
      'npx -c "id"',
      'make --eval=x',
      'make -f /tmp/m',
      'make CC=/tmp/cc',
      'tar --to-command=sh -xf a.tar',
      'tar --checkpoint-action=exec=id -tf a.tar',
      'tar xf a.tar',
      'rsync -e sh a b',
      'rsync -ae sh a b',
      'curl -o /tmp/x u',
      'curl -O u',
      'curl -sSLo x u',
      'curl --output x u',
      'curl -d @/etc/passwd u',
      'wget u',
      'ls > out',
      'ls >> out',
      'ls 2> err',
      'PATH=/tmp ls',
      'LD_PRELOAD=/tmp/x.so ls',
      'GIT_DIR=/tmp git status',
      'NODE_OPTIONS=--require=x npm test',
      'ls $HOME',
      'ls ${x}',
      'ls *',
      'rm -- -rf ?',
      'find . {-delete,}',
      'ls [ab]',
    ]) {
      expect(commandPolicy(command).ok, command).toBe(false);
    }
  });

  it('RULE-11: appends, unknown variables, shell keywords and shell-state builtins are refused; long flags also when abbreviated', () => {
    for (const command of [
      'PATH+=:/tmp git status',
      'GCONV_PATH=/tmp ls',
      'CC=/tmp/cc make build',
      'RUSTC_WRAPPER=/tmp/x cargo build',
      'GOFLAGS=-toolexec=/tmp/x go test',
      '! bash',
      'then bash',
      'coproc bash',
      'time bash',
      'hash -p /tmp/x ls',
      'enable -f /tmp/x.so ls',
      'alias ls=bash',
      'export PATH=/tmp',
      'declare -x PATH=/tmp',
      'git status \r#; touch /tmp/x',
      'ls -la \u202e; curl x',
      'ls\u200b',
      'ls \x1b[2K',
      "sed --expr='1e id' x.txt",
      "sed --exp '1e id' x.txt",
      "sed --expression='1e id' x.txt",
      'npm test --node_options=--require=x',
      'git diff --outp=/tmp/x',
      'git diff --out=/tmp/x',
      'sed --in-pl s/a/b/ f',
      'make --ev=x',
      'tar --to-com=sh -tf a.tar',
      'npm test --node-opt=--require=x',
      'curl --outp x u',
    ]) {
      expect(commandPolicy(command).ok, command).toBe(false);
    }
  });

  it('RULE-11: leaves ordinary commands rememberable (positive)', () => {
    for (const command of [
      'git status',
      'git log --oneline | head -5',
      'npm test',
      'npm run lint',
      'find . -name "*.ts"',
      "sed -n '1p' f.txt",
      'ls -la',
      'cargo build',
      'make build',
      'tar -tf a.tar',
      'curl -s https://example.com',
      'CI=1 npm test',
      'NODE_ENV=test LANG=C npm test',
      'ls 2>/dev/null',
      'git diff --stat',
      'git log --oneline',
      'docker ps',
      'kubectl get pods',
    ]) {
      expect(commandPolicy(command), command).toMatchObject({ ok: true });
    }
  });

  it('RULE-11: a prefix rule never covers a command the policy refuses, whatever its pattern', () => {
    const find = allow('find .', 'bash-prefix');
    expect(ruleCovers(find, bash('find . -name x'))).toBe(true);
    expect(ruleCovers(find, bash('find . -name x -delete'))).toBe(false);
    expect(ruleCovers(find, bash('find . {-delete,}'))).toBe(false);
    expect(ruleCovers(allow('npm test', 'bash-prefix'), bash('npm test --node-options=--require=/tmp/x'))).toBe(false);
    expect(ruleCovers(allow('npm test', 'bash-prefix'), bash('npm test -- --watch'))).toBe(true);
  });

  it('RULE-12: prefixes are offered for one simple command, never for writers, never without the subcommand', () => {
    expect(proposeRule(bash('git diff --stat HEAD')).prefixes.map((p) => p.pattern)).toEqual(['git diff --stat HEAD', 'git diff --stat', 'git diff']);
    expect(proposeRule(bash('ls -la src')).prefixes.map((p) => p.pattern)).toEqual(['ls -la src', 'ls -la', 'ls']);
    expect(proposeRule(bash('rm -rf build')).prefixes).toEqual([]);
    expect(proposeRule(bash('rm -rf build')).exact).toMatchObject({ kind: 'bash-exact', pattern: 'rm -rf build' });
    expect(proposeRule(bash('git log | head')).prefixes).toEqual([]);
    expect(proposeRule(bash('sudo ls'))).toMatchObject({ exact: null, prefixes: [], refused: expect.stringMatching(/sudo/) });
  });
});

describe('RULE-19: rules stored by the older version', () => {
  it('RULE-19: an "Always allow" prefix becomes its exact command, a refused allow rule is revoked, once', () => {
    const db = openAgentsDb(':memory:');
    db.exec(
      `CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, tool_name TEXT NOT NULL, pattern TEXT NOT NULL, kind TEXT NOT NULL, decision TEXT NOT NULL, scope TEXT NOT NULL, scope_value TEXT, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, source_request_id TEXT, revoked_at INTEGER)`,
    );
    const insert = db.prepare(
      `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, created_at, created_by, source_request_id) VALUES (?, 'Bash', ?, 'bash-prefix', ?, 'global', 0, 'browser', ?)`,
    );
    insert.run('old-bash', 'bash', 'allow', 'req-1');
    insert.run('old-find', "find . -name '*.ts'", 'allow', 'req-2');
    insert.run('api-prefix', 'git status', 'allow', null);
    insert.run('old-deny', 'bash', 'deny', 'req-3');
    const changes: string[] = [];
    const store = new RuleStore(db, (c) => changes.push(`${c.id}:${c.change}`));
    expect(changes).toEqual(['old-bash:revoked', 'old-find:exact']);
    const byId = Object.fromEntries(store.list().map((r) => [r.id, r]));
    expect(Object.keys(byId).sort()).toEqual(['api-prefix', 'old-deny', 'old-find']);
    expect(byId['old-find']?.kind).toBe('bash-exact');
    expect(byId['api-prefix']?.kind).toBe('bash-prefix');
    expect(ruleCovers(byId['old-find']!, bash("find . -name '*.ts' -delete"))).toBe(false);
    expect(ruleCovers(byId['old-find']!, bash("find . -name '*.ts'"))).toBe(true);
    new RuleStore(db, (c) => changes.push(`again:${c.id}`));
    expect(changes).toHaveLength(2);
    db.close();
  });
});
