// Baseline for bench:ingest: express 5 that parses JSON and answers, nothing else.
import express from 'express';

const app = express();
app.post('/webhooks/events', express.json({ limit: '4mb' }), (req, res) => {
  res.json({ received: Array.isArray(req.body) ? req.body.length : 1 });
});
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
