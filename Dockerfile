# rllib-meta on CPU. Runs the demo by default; also usable as the image of Ray cluster nodes
# (docs/cluster.md): every node then has the package, so remote EnvRunners build its envs.
#   docker build -t rllib-meta .
#   docker run --rm rllib-meta                       # the demo job
#   docker run --rm rllib-meta rllib list
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1

WORKDIR /opt/rllib-meta
COPY pyproject.toml setup.cfg constraints.txt README.md ./
COPY rllib_meta ./rllib_meta
COPY envs ./envs
COPY tuned_examples ./tuned_examples

# The CPU build of torch comes from PyTorch's index (PyPI's default build pulls CUDA).
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -c constraints.txt . \
    && rllib list

CMD ["sh", "-c", "rllib train file tuned_examples/meta_mapg_ipd.yaml --storage-path /tmp/results --stop '{\"training_iteration\": 3}' && rllib evaluate /tmp/results/meta-mapg-ipd --output-dir /tmp/results/meta-test"]
