export declare const templatePath: string;
export declare const nginxBinary: string | undefined;
export declare function renderNginxConfig(values: Record<string, string | number>): string;
export interface RunningNginx {
  url: string;
  port: number;
  prefix: string;
  configFile: string;
  pid: number | undefined;
  accessLog(): string;
  errorLog(): string;
  stop(): Promise<void>;
}
export declare function startNginx(options: {
  port: number;
  upstreams: number[];
  workerProcesses?: number | 'auto';
  failTimeout?: string;
  accessLog?: boolean;
}): Promise<RunningNginx>;
