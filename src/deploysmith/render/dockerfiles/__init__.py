"""One module per language family for the Dockerfile renderer (render/dockerfile.py).

Each module offers `build(ctx, out)` (the stages after the header and base-image ARGs),
`ignore(ctx)` (the stack's .dockerignore lines) and `dev(ctx)` (how compose.yaml runs it
for local development). render/dockerfile.py lists them in one dict.
"""
