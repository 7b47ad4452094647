// upstream's vendor/nacl.js is tweetnacl as an ES module; this loads npm's
// tweetnacl (a UMD script that sets self.nacl outside CommonJS) instead.
import '../tweetnacl/nacl-fast.js';

export default self.nacl;
