#!/bin/sh
# Fresh random secrets for the local docker-compose stack, as Compose's env file:
#   deploy/compose/secrets.sh > deploy/compose/.env
#   docker compose --env-file deploy/compose/.env up --build
# Nothing here is kept in Git (.gitignore has .env). Hex for the passwords that
# go into URLs; base64 for SECRET_KEY, as production wants (openssl rand -base64 48).
# STACK_SMTP_URL stays empty (mail off); put smtp://user:pass@host:587 there to send mail.
set -eu
echo "STACK_SECRET_KEY=$(openssl rand -base64 48)"
echo "STACK_FUNCTIONS_TOKEN=$(openssl rand -hex 32)"
echo "STACK_POSTGRES_PASSWORD=$(openssl rand -hex 24)"
echo "STACK_MINIO_PASSWORD=$(openssl rand -hex 24)"
echo "STACK_GRAFANA_PASSWORD=$(openssl rand -hex 16)"
echo "STACK_SMTP_URL="
