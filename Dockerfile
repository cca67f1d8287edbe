# Rekindle: one image, two roles (`serve`, `worker`), chosen by the command.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system rekindle && useradd --system --gid rekindle --home /app rekindle
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json drizzle.config.ts ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY templates ./templates
COPY slack-manifest.yml* ./
USER rekindle
EXPOSE 3000 9464
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/rekindle.js"]
CMD ["serve"]
