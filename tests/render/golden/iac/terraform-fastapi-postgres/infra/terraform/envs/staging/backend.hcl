# State backend settings for `terraform init -backend-config=backend.hcl`.
# S3 with native locking (use_lockfile: a lock object beside the state, no DynamoDB table), encrypted; create the versioned bucket once and name it in backend.hcl.

bucket = "fastapi-postgres-terraform-state"
region = "us-east-1"
