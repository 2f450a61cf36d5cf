declare module '@vercel/ncc' {
  interface NccOptions {
    quiet?: boolean;
    minify?: boolean;
    sourceMap?: boolean;
    cache?: boolean | string;
    externals?: string[];
    target?: string;
    transpileOnly?: boolean;
  }
  export default function ncc(
    entry: string,
    options?: NccOptions,
  ): Promise<{ code: string; assets: Record<string, { source: string | Buffer; permissions?: number }> }>;
}
