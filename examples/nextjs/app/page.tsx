export default function Home() {
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", padding: "2rem" }}>
      <h1>Hello from Next.js</h1>
      <p>
        Health check: <a href="/api/health">/api/health</a>
      </p>
    </main>
  );
}
