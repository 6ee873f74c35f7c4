// Tools that read TypeScript through its JS compiler API get TypeScript 5.9 of their own:
// the workspace's TypeScript 7 is the native compiler and has no such API.
const needsJsCompilerApi = new Set(["madge"])

module.exports = {
  hooks: {
    readPackage(pkg) {
      if (needsJsCompilerApi.has(pkg.name)) {
        if (pkg.peerDependencies) delete pkg.peerDependencies.typescript
        pkg.dependencies = { ...pkg.dependencies, typescript: "5.9.3" }
      }
      return pkg
    }
  }
}
