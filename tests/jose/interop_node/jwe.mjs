// Encrypt and decrypt JWEs with panva/jose for tests/jose/test_jwe_interop_node.py.
// Reads a JSON array of jobs on stdin, writes a JSON array of results on stdout:
//   {"op": "encrypt", "jwk", "alg", "enc", "plaintext"} -> {"token"}
//   {"op": "decrypt", "jwk", "alg", "token"}              -> {"plaintext"} or {"error"}
import { CompactEncrypt, compactDecrypt, importJWK } from "jose";

const input = await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
});
const results = [];
for (const job of JSON.parse(input)) {
  try {
    const key = await importJWK(job.jwk, job.alg);
    if (job.op === "encrypt") {
      const token = await new CompactEncrypt(new TextEncoder().encode(job.plaintext))
        .setProtectedHeader({ alg: job.alg, enc: job.enc })
        .encrypt(key);
      results.push({ token });
    } else {
      const { plaintext } = await compactDecrypt(job.token, key, {
        keyManagementAlgorithms: [job.alg],
      });
      results.push({ plaintext: new TextDecoder().decode(plaintext) });
    }
  } catch (error) {
    results.push({ error: String(error) });
  }
}
process.stdout.write(JSON.stringify(results));
