/** Types of scripts/build-cli.js (plain JavaScript, so that `npm install` runs it with no loader). */
export declare const COMMANDS: readonly string[];
export declare const SOURCE_DIRS: readonly string[];
export declare function bundlePath(command: string, base?: string): string;
export declare function isBundleFresh(command: string, base?: string): boolean;
export declare function buildCommands(commands?: readonly string[], base?: string): Promise<void>;
