"""The Python HTTP floor under lcel_pipeline.py: bare httpx POSTs (the client ChatOpenAI uses) with a
body like the pipeline's, sequential (httpx.Client) or concurrent (httpx.AsyncClient, a semaphore).

  python bare_httpx.py BASE_URL [N] [CONCURRENCY]
Prints one line: runs/s and mean ms per request, in lcel_pipeline.py's format.
"""
import asyncio, json, sys, time
import httpx

base = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 500; C = int(sys.argv[3]) if len(sys.argv) > 3 else 1
context = "\n".join(f"Article {i}: to reset a password open settings, choose security, step {i}." for i in range(5))
body = {"model": "mock", "temperature": 0.7, "stream": False, "messages": [
    {"role": "system", "content": "Answer from CONTEXT only. Reply as JSON {\"answer\": str, \"confidence\": number}.\nCONTEXT:\n" + context},
    {"role": "user", "content": "How do I reset my password?"}]}
headers = {"Authorization": "Bearer sk-bench"}
url = base.rstrip("/") + "/chat/completions"

def check(r):
    r.raise_for_status(); json.loads(r.json()["choices"][0]["message"]["content"])

if C == 1:
    with httpx.Client(timeout=30) as client:
        for _ in range(20): check(client.post(url, json=body, headers=headers))
        t0 = time.perf_counter()
        for _ in range(N): check(client.post(url, json=body, headers=headers))
        dt = time.perf_counter() - t0
else:
    async def main():
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)  # ChatOpenAI's async client defaults
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            for _ in range(20): check(await client.post(url, json=body, headers=headers))
            sem = asyncio.Semaphore(C)
            async def one():
                async with sem: check(await client.post(url, json=body, headers=headers))
            t0 = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(N)))
            return time.perf_counter() - t0
    dt = asyncio.run(main())
print(f"bare httpx vs mock: {N} runs at concurrency {C}: {N/dt:.0f} runs/s, {dt/N*1e3:.2f} ms per run")
