#!/usr/bin/env bash
# Builds the leadsinstruct refresh Flex Template and creates (or updates) a Cloud Scheduler job
# that launches it daily. Run from anywhere with gcloud authenticated; see docs/scheduling.md.
#
# Required environment:
#   PROJECT          Google Cloud project
#   REGION           Dataflow and Cloud Scheduler region, e.g. europe-west1
#   BUCKET           bucket (no gs://) for the template file, temp and staging files
#   ROOT             output root, gs://...
#   EMAIL            contact address sent to NCBI with every request
#   SERVICE_ACCOUNT  account the launcher and the Dataflow workers run as
#   SCHEDULER_SA     account Cloud Scheduler calls the Dataflow API as
#                    (needs roles/dataflow.developer and roles/iam.serviceAccountUser on SERVICE_ACCOUNT)
# Optional:
#   REPOSITORY       Artifact Registry Docker repository (default leadsinstruct)
#   SECRET           Secret Manager secret holding the NCBI api key (default ncbi-api-key);
#                    create it beforehand, see docs/scheduling.md. SECRET=none: run without a key
#   SCHEDULE         cron expression (default "15 6 * * *"), TIME_ZONE (default Etc/UTC)
#   JOB              Cloud Scheduler job name (default leadsinstruct-refresh)
#   TAG              image tag (default: UTC time of this run)
#
# The api key never passes through this script: the image carries only the secret's name, and
# the launcher reads the value with SERVICE_ACCOUNT's rights when a launch starts.
set -euo pipefail

: "${PROJECT:?}" "${REGION:?}" "${BUCKET:?}" "${ROOT:?}" "${EMAIL:?}" "${SERVICE_ACCOUNT:?}" "${SCHEDULER_SA:?}"
REPOSITORY="${REPOSITORY:-leadsinstruct}"
SECRET="${SECRET:-ncbi-api-key}"
SCHEDULE="${SCHEDULE:-15 6 * * *}"
TIME_ZONE="${TIME_ZONE:-Etc/UTC}"
JOB="${JOB:-leadsinstruct-refresh}"
TAG="${TAG:-$(date -u +%Y%m%d-%H%M%S)}"

repo_dir="$(cd "$(dirname "$0")/../.." && pwd)"
IMAGE="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/leadsinstruct-refresh:$TAG"
TEMPLATE_PATH="gs://$BUCKET/templates/leadsinstruct-refresh.json"
TEMP_LOCATION="gs://$BUCKET/tmp"
STAGING_LOCATION="gs://$BUCKET/staging"
export TEMPLATE_PATH ROOT EMAIL TEMP_LOCATION STAGING_LOCATION SERVICE_ACCOUNT

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The secret: only its name goes into the image; the launcher's account may read it.
secret_version=""
if [[ "$SECRET" != none ]]; then
  gcloud secrets describe "$SECRET" --project "$PROJECT" >/dev/null
  gcloud secrets add-iam-policy-binding "$SECRET" --project "$PROJECT" \
    --member "serviceAccount:$SERVICE_ACCOUNT" --role roles/secretmanager.secretAccessor >/dev/null
  secret_version="projects/$PROJECT/secrets/$SECRET/versions/latest"
fi

# 2. The image, built by Cloud Build from the files it needs only.
gcloud artifacts repositories describe "$REPOSITORY" --location "$REGION" --project "$PROJECT" >/dev/null 2>&1 ||
  gcloud artifacts repositories create "$REPOSITORY" --repository-format docker --location "$REGION" --project "$PROJECT"
mkdir -p "$work/src/deploy/flex_template"
(cd "$repo_dir" && cp -R requirements.txt setup.py pipelines transforms schemas synth fetching "$work/src/")
cp "$repo_dir/deploy/flex_template/Dockerfile" "$repo_dir/deploy/flex_template/secret_env.py" \
  "$work/src/deploy/flex_template/"
find "$work/src" -name __pycache__ -type d -prune -exec rm -rf {} +
cat > "$work/cloudbuild.yaml" <<EOF
steps:
- name: gcr.io/cloud-builders/docker
  args: [build, -f, deploy/flex_template/Dockerfile, --build-arg, "NCBI_API_KEY_SECRET=$secret_version", -t, "$IMAGE", .]
images: ["$IMAGE"]
EOF
gcloud builds submit "$work/src" --config "$work/cloudbuild.yaml" --project "$PROJECT" --region "$REGION"

# 3. The template spec file.
gcloud dataflow flex-template build "$TEMPLATE_PATH" \
  --image "$IMAGE" \
  --sdk-language PYTHON \
  --metadata-file "$repo_dir/deploy/flex_template/metadata.json" \
  --project "$PROJECT"

# 4. The launch request body.
python3 - "$repo_dir/deploy/cloud_scheduler/launch_body.json" "$work/body.json" <<'EOF'
import json, os, string, sys
text = string.Template(open(sys.argv[1]).read()).substitute(os.environ)
json.dump(json.loads(text), open(sys.argv[2], "w"), indent=2)
EOF

# 5. The Cloud Scheduler job.
uri="https://dataflow.googleapis.com/v1b3/projects/$PROJECT/locations/$REGION/flexTemplates:launch"
common=(--location "$REGION" --project "$PROJECT" --schedule "$SCHEDULE" --time-zone "$TIME_ZONE"
        --uri "$uri" --http-method POST --message-body-from-file "$work/body.json"
        --oauth-service-account-email "$SCHEDULER_SA"
        --oauth-token-scope https://www.googleapis.com/auth/cloud-platform
        --attempt-deadline 180s --max-retry-attempts 3 --min-backoff 10m
        --description "Daily leadsinstruct refresh (Flex Template $TEMPLATE_PATH)")
if gcloud scheduler jobs describe "$JOB" --location "$REGION" --project "$PROJECT" >/dev/null 2>&1; then
  gcloud scheduler jobs update http "$JOB" "${common[@]}" --update-headers Content-Type=application/json
else
  gcloud scheduler jobs create http "$JOB" "${common[@]}" --headers Content-Type=application/json
fi

echo "image:     $IMAGE"
echo "template:  $TEMPLATE_PATH"
echo "scheduler: $JOB ($SCHEDULE $TIME_ZONE); run now with:"
echo "  gcloud scheduler jobs run $JOB --location $REGION --project $PROJECT"
