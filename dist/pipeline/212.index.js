export const id = 212;
export const ids = [212,565];
export const modules = {

/***/ 38831:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  gsRemote: () => (/* binding */ gsRemote)
});

// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(48161);
// EXTERNAL MODULE: ./packages/kit/src/index.ts + 112 modules
var src = __webpack_require__(18336);
;// CONCATENATED MODULE: ./packages/dvc/src/remotes/first-chunk.ts
/**
 * Pulls the first chunk of a lazy stream so that "not found" (which SDK streams report only on first read)
 * can be told apart before the caller starts writing; the returned iterable replays that chunk.
 */
async function primeStream(stream, isMissing) {
    const iterator = stream[Symbol.asyncIterator]();
    let first;
    try {
        first = await iterator.next();
    }
    catch (error) {
        if (isMissing(error))
            return undefined;
        throw error;
    }
    return (async function* () {
        if (!first.done)
            yield first.value;
        for (let next = await iterator.next(); !next.done; next = await iterator.next())
            yield next.value;
    })();
}

// EXTERNAL MODULE: ./packages/dvc/src/remotes/s3.ts
var s3 = __webpack_require__(3565);
;// CONCATENATED MODULE: ./packages/dvc/src/remotes/gs.ts




function statusOf(error) {
    const code = error.code;
    return typeof code === 'number' ? code : undefined;
}
/**
 * A Google Cloud Storage remote through @google-cloud/storage, loaded only here. Credentials come from
 * `credentialpath` in the remote's config or the environment (GOOGLE_APPLICATION_CREDENTIALS, as
 * google-github-actions/auth leaves it).
 */
async function gsRemote(remote, _options) {
    const { Storage } = await Promise.all(/* import() */[__webpack_require__.e(171), __webpack_require__.e(56), __webpack_require__.e(352), __webpack_require__.e(754), __webpack_require__.e(665)]).then(__webpack_require__.bind(__webpack_require__, 73665));
    const o = remote.options;
    const { bucket, prefix } = (0,s3.parseBucketUrl)(remote.url);
    const storage = new Storage({
        ...(o.projectname ? { projectId: o.projectname } : {}),
        ...(o.credentialpath ? { keyFilename: o.credentialpath } : {}),
        ...(o.endpointurl ? { apiEndpoint: o.endpointurl } : {}),
    });
    const keyOf = (objectPath) => (prefix ? `${prefix}/${objectPath}` : objectPath);
    return {
        name: remote.name,
        kind: 'gs',
        display: remote.url,
        defaultJobs: Math.min(32, (0,external_node_os_.cpus)().length * 4),
        locate: (objectPath) => `gs://${bucket}/${keyOf(objectPath)}`,
        async open(objectPath) {
            const stream = storage.bucket(bucket).file(keyOf(objectPath)).createReadStream({ validation: false });
            try {
                return await primeStream(stream, (error) => statusOf(error) === 404);
            }
            catch (error) {
                const status = statusOf(error);
                if (status === 401 || status === 403) {
                    throw new src/* ActionError */.lZ(`DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${status}; authenticate with google-github-actions/auth or set credentialpath`);
                }
                throw error;
            }
        },
    };
}


/***/ }),

/***/ 3565:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   parseBucketUrl: () => (/* binding */ parseBucketUrl),
/* harmony export */   s3Remote: () => (/* binding */ s3Remote)
/* harmony export */ });
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(48161);
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_os__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(18336);


const AUTH_ERRORS = new Set([
    'AccessDenied',
    'InvalidAccessKeyId',
    'SignatureDoesNotMatch',
    'ExpiredToken',
    'InvalidToken',
    'Forbidden',
]);
/** Splits `s3://bucket/prefix` into bucket and key prefix (no trailing slash). */
function parseBucketUrl(url) {
    const parsed = new URL(url);
    return { bucket: parsed.host, prefix: decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '') };
}
/**
 * An S3 (or S3-compatible, with `endpointurl`) remote through the AWS SDK v3, loaded only here. Credentials
 * come from the environment, as aws-actions/configure-aws-credentials leaves them, unless the remote's
 * config sets access_key_id / secret_access_key.
 */
async function s3Remote(remote, options) {
    const { S3Client, GetObjectCommand } = await __webpack_require__.e(/* import() */ 711).then(__webpack_require__.t.bind(__webpack_require__, 53711, 19));
    const o = remote.options;
    const { bucket, prefix } = parseBucketUrl(remote.url);
    const env = options.env;
    for (const secret of [o.secret_access_key, o.session_token])
        if (secret)
            options.mask?.(secret);
    const endpoint = o.endpointurl || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
    const client = new S3Client({
        region: o.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        ...(o.access_key_id && o.secret_access_key
            ? {
                credentials: {
                    accessKeyId: o.access_key_id,
                    secretAccessKey: o.secret_access_key,
                    sessionToken: o.session_token,
                },
            }
            : {}),
        maxAttempts: 5,
    });
    const keyOf = (objectPath) => (prefix ? `${prefix}/${objectPath}` : objectPath);
    return {
        name: remote.name,
        kind: 's3',
        display: remote.url,
        defaultJobs: Math.min(32, (0,node_os__WEBPACK_IMPORTED_MODULE_0__.cpus)().length * 4),
        locate: (objectPath) => `s3://${bucket}/${keyOf(objectPath)}`,
        async open(objectPath, signal) {
            try {
                const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(objectPath) }), {
                    abortSignal: signal,
                });
                return response.Body;
            }
            catch (error) {
                const err = error;
                const code = err.name ?? err.Code ?? '';
                const status = err.$metadata?.httpStatusCode;
                if (code === 'NoSuchKey' || code === 'NotFound' || status === 404)
                    return undefined;
                if (code === 'NoSuchBucket')
                    throw new _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`DVC remote '${remote.name}' (${remote.url}): bucket '${bucket}' does not exist`);
                if (AUTH_ERRORS.has(code) || status === 401 || status === 403) {
                    throw new _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${code || status}; set AWS credentials in the environment (aws-actions/configure-aws-credentials)`);
                }
                if (code === 'CredentialsProviderError') {
                    throw new _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`DVC remote '${remote.name}' (${remote.url}): no AWS credentials found in the environment`);
                }
                throw error;
            }
        },
    };
}


/***/ })

};
