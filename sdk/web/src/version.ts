/** Kept equal to package.json's version; build.mjs refuses to build when they differ. */
export const SDK_VERSION = "0.1.0";
