export const id = 565;
export const ids = [565];
export const modules = {

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
