declare module '@vercel/ncc' {
  interface NccOptions {
    quiet?: boolean;
    minify?: boolean;
    sourceMap?: boolean;
    cache?: boolean | string;
    /** Names, or `{ '/regex/': 'replacement with $1' }`: left as run-time requires. */
    externals?: string[] | Record<string, string>;
    target?: string;
    transpileOnly?: boolean;
  }
  export default function ncc(
    entry: string,
    options?: NccOptions,
  ): Promise<{ code: string; assets: Record<string, { source: string | Buffer; permissions?: number }> }>;
}
