# Rekindle: one image, every role (`serve`, `worker`, `migrate`, `doctor`…), chosen by the command.
# It runs the compiled JavaScript in dist/ (`npm run build`), not the TypeScript sources.

# 1. compile: all dependencies (TypeScript), then bin/build.js → dist/ (code, migrations, templates)
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY templates ./templates
RUN node bin/build.js dist

# 2. production dependencies only
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3. the image
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system rekindle && useradd --system --gid rekindle --home /app rekindle \
  && mkdir -p /app/outbox /app/.data && chown rekindle:rekindle /app/outbox /app/.data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
USER rekindle
EXPOSE 3000 9464 9465
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
