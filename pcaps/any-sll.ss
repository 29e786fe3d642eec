# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB      0      0          192.0.2.1:55240    192.0.2.2:89         
ESTAB      0      0          192.0.2.1:56468    192.0.2.2:80         
FIN-WAIT-2 0      0          192.0.2.1:41842    192.0.2.2:83         
FIN-WAIT-1 0      1          192.0.2.1:59702    192.0.2.2:86         
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:86        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:83        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:80        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:89        0.0.0.0:*           
ESTAB      0      0          192.0.2.2:86      192.0.2.1:59702       
CLOSE-WAIT 0      0          192.0.2.2:83      192.0.2.1:41842       
ESTAB      0      0          192.0.2.2:80      192.0.2.1:56468       
SYN-RECV   0      0          192.0.2.2:89      192.0.2.1:55240       
