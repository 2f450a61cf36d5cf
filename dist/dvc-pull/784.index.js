export const id = 784;
export const ids = [784];
export const modules = {

/***/ 64784:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   azureRemote: () => (/* binding */ azureRemote),
/* harmony export */   parseContainerUrl: () => (/* binding */ parseContainerUrl)
/* harmony export */ });
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(48161);
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_os__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(18336);


/** `azure://container/prefix` → container and key prefix. */
function parseContainerUrl(url) {
    const parsed = new URL(url);
    return { container: parsed.host, prefix: decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '') };
}
/**
 * An Azure Blob Storage remote through @azure/storage-blob, loaded only here. Credentials, as DVC reads
 * them: connection_string, account_name + account_key or sas_token from the remote's config, else
 * AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT (+ AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN).
 */
async function azureRemote(remote, options) {
    const { BlobServiceClient, StorageSharedKeyCredential } = await Promise.all(/* import() */[__webpack_require__.e(669), __webpack_require__.e(941), __webpack_require__.e(747)]).then(__webpack_require__.bind(__webpack_require__, 43747));
    const o = remote.options;
    const env = options.env;
    const { container, prefix } = parseContainerUrl(remote.url);
    for (const secret of [o.connection_string, o.account_key, o.sas_token])
        if (secret)
            options.mask?.(secret);
    const connection = o.connection_string || env.AZURE_STORAGE_CONNECTION_STRING;
    const account = o.account_name || env.AZURE_STORAGE_ACCOUNT;
    const key = o.account_key || env.AZURE_STORAGE_KEY;
    const sas = o.sas_token || env.AZURE_STORAGE_SAS_TOKEN;
    let service;
    if (connection)
        service = BlobServiceClient.fromConnectionString(connection);
    else if (account && key) {
        service = new BlobServiceClient(`https://${account}.blob.core.windows.net`, new StorageSharedKeyCredential(account, key));
    }
    else if (account) {
        service = new BlobServiceClient(`https://${account}.blob.core.windows.net${sas ? `?${sas.replace(/^\?/, '')}` : ''}`);
    }
    else {
        throw new _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`DVC remote '${remote.name}' (${remote.url}): no Azure account; set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT (with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN), or use-dvc-cli: true`);
    }
    const client = service.getContainerClient(container);
    const keyOf = (objectPath) => (prefix ? `${prefix}/${objectPath}` : objectPath);
    return {
        name: remote.name,
        kind: 'azure',
        display: remote.url,
        defaultJobs: Math.min(32, (0,node_os__WEBPACK_IMPORTED_MODULE_0__.cpus)().length * 4),
        locate: (objectPath) => `azure://${container}/${keyOf(objectPath)}`,
        async open(objectPath, signal) {
            try {
                const response = await client
                    .getBlobClient(keyOf(objectPath))
                    .download(0, undefined, { abortSignal: signal });
                return response.readableStreamBody;
            }
            catch (error) {
                const status = error.statusCode;
                if (status === 404)
                    return undefined;
                if (status === 401 || status === 403) {
                    throw new _mlops_actions_kit__WEBPACK_IMPORTED_MODULE_1__/* .ActionError */ .lZ(`DVC remote '${remote.name}' (${remote.url}) rejected the credentials: ${status}; check the Azure storage credentials`);
                }
                throw error;
            }
        },
    };
}


/***/ })

};
