export interface Tool {
  install: string;
  variable: string;
  names?: string[];
}
export interface Tier {
  step: 'tests' | 'deploy' | 'e2e' | 'image';
  tools: string[];
  /** Runs only as root (missingTools names it then). */
  root?: boolean;
  tests: string;
}
export declare const TOOLS: Record<string, Tool>;
export declare const TIERS: Record<string, Tier>;
export declare function requireAll(): boolean;
export declare function findTool(name: string): string | undefined;
export declare function missingTools(tierName: string): string[];
export declare function skipLine(tierName: string): string | undefined;
export declare function tierCanRun(tierName: string): boolean;
