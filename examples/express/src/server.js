const app = require("./app");

const port = Number(process.env.PORT) || 3000;

const server = app.listen(port, () => {
  console.log(`listening on port ${port}`);
});

function shutdown(signal) {
  console.log(`${signal} received, closing server`);
  server.close(() => process.exit(0));
}

process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
